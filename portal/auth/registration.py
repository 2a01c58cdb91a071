"""Registration (注册): a customer the company already knows activates online access.

Step 1: main card number + unified social credit code + the mobile number or email on file -> a 6-digit
code sent there (10 minutes, 5 attempts). Step 2: the code + a user name and password -> a fleet admin
of that customer. A customer may register more than one admin this way (each proof is the same); every
registration is audited with the customer's id, so its admins see it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.services import record
from portal.auth import codes, services
from portal.auth.credentials import same_contact
from portal.auth.models import OneTimeCode, User
from portal.auth.policy import PasswordPolicy
from portal.auth.services import create_user
from portal.cards.models import Card
from portal.customers.models import Customer


class DetailsMismatch(Exception):
    """Unknown card, wrong credit code or contact: one neutral answer for all of them."""


class CodeRejected(Exception):
    """Wrong, used, expired or exhausted code. `remaining` guesses are left (0: ask for a new code)."""

    def __init__(self, remaining: int):
        super().__init__(f"code rejected; {remaining} attempts left")
        self.remaining = remaining


#: The user name is in use; `suggestion` is a free one (the one rule: auth.services.claim_username).
UsernameTaken = services.UsernameTaken


def find_customer(session: Session, card_number: str, credit_code: str, contact: str) -> Customer | None:
    customer = session.scalar(
        select(Customer)
        .join(Card, Card.customer_id == Customer.id)
        .where(Card.number == card_number.strip(), Card.role == "main", Card.status == "active")
    )
    if customer is None or customer.credit_code.upper() != credit_code.strip().upper():
        return None
    if not same_contact(contact, customer.phone, customer.email):
        return None
    return customer


def start(
    session: Session,
    card_number: str,
    credit_code: str,
    contact: str,
    *,
    now: datetime,
    ip: str = "",
    limits: codes.SendLimits = codes.DEFAULT_SEND_LIMITS,
) -> tuple[OneTimeCode, str]:
    """Check the details and issue a code to the customer's phone or email on file. Raises
    DetailsMismatch, or codes.TooManySent past the send limits (recorded; the caller commits it)."""
    customer = find_customer(session, card_number, credit_code, contact)
    if customer is None:
        record(session, "auth.registration_refused", ip=ip, detail={"card": card_number[-4:]}, now=now)
        session.flush()
        raise DetailsMismatch()
    destination = customer.email if "@" in contact else customer.phone
    try:
        row, code = codes.issue_numeric_code(
            session, customer_id=customer.id, destination=destination, now=now, limits=limits
        )
    except codes.TooManySent as limited:
        detail = {"until": limited.retry_at.isoformat()}
        record(session, "auth.registration_limited", customer_id=customer.id, ip=ip, detail=detail, now=now)
        session.flush()
        raise
    record(session, "auth.registration_started", customer_id=customer.id, ip=ip, now=now)
    return row, code


def check_code(session: Session, code_id: int | None, code: str, *, now: datetime) -> OneTimeCode:
    """The code row if `code` is right; a wrong guess is counted (the caller commits it)."""
    row = session.get(OneTimeCode, code_id) if code_id else None
    if not codes.numeric_code_usable(row, now):
        raise CodeRejected(0)
    if not codes.numeric_code_matches(row, code):
        row.attempts += 1
        session.flush()
        raise CodeRejected(max(codes.REGISTER_CODE_ATTEMPTS - row.attempts, 0))
    return row


def complete(
    session: Session,
    code_id: int | None,
    code: str,
    username: str,
    password: str,
    *,
    policy: PasswordPolicy,
    rounds: int,
    now: datetime,
    ip: str = "",
) -> User:
    """Create the fleet admin. Raises CodeRejected, UsernameTaken (with a free suggestion) or
    PasswordRejected (code not spent)."""
    row = check_code(session, code_id, code, now=now)
    customer = session.get(Customer, row.customer_id)
    user = create_user(
        session,
        username=username,
        password=password,
        role="admin",
        rounds=rounds,
        now=now,
        policy=policy,
        customer_id=customer.id,
        display_name=customer.contact_name[:64],
        email=customer.email,
        phone=customer.phone,
    )
    row.used_at = now
    record(session, "auth.register", actor_id=user.id, user_id=user.id, customer_id=customer.id, ip=ip, now=now)
    session.flush()
    return user
