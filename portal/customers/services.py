"""Customer profile (客户资料维护). A fleet admin edits contacts, address and invoice details; the legal
name and the unified social credit code are read-only for them and changed only by support staff of
the customer's region. Every change is audited with the before and after values."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit.services import record
from portal.customers.models import Customer

#: What a fleet admin may change.
ADMIN_FIELDS = (
    "contact_name",
    "phone",
    "mobile",
    "email",
    "finance_contact_name",
    "finance_phone",
    "finance_email",
    "address",
    "postcode",
    "invoice_title",
    "invoice_tax_number",
    "invoice_address",
    "invoice_phone",
    "invoice_bank",
    "invoice_bank_account",
)
#: What only support staff may change, in addition.
STAFF_FIELDS = ("name", "credit_code")

#: GB 32100-2015: 18 characters from digits and capitals without I, O, Z, S, V.
CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")


class ProfileError(Exception):
    code = "profile_error"


class FieldNotEditable(ProfileError):
    code = "field_not_editable"


class CreditCodeTaken(ProfileError):
    code = "credit_code_taken"


class InvalidCreditCode(ProfileError):
    code = "invalid_credit_code"


def update_profile(
    session: Session,
    customer: Customer,
    changes: dict[str, str],
    *,
    actor_id: int | None,
    by_staff: bool,
    now: datetime,
    ip: str = "",
) -> dict[str, tuple[str, str]]:
    """Apply `changes`; returns {field: (before, after)} of what actually changed (audited)."""
    allowed = set(ADMIN_FIELDS) | (set(STAFF_FIELDS) if by_staff else set())
    refused = set(changes) - allowed
    if refused:
        raise FieldNotEditable(f"not editable here: {', '.join(sorted(refused))}")
    changes = {key: (value or "").strip() for key, value in changes.items()}
    if "credit_code" in changes:
        code = changes["credit_code"].upper()
        if not CREDIT_CODE.match(code):
            raise InvalidCreditCode("a unified social credit code has 18 characters")
        clash = session.scalar(select(Customer.id).where(Customer.credit_code == code, Customer.id != customer.id))
        if clash is not None:
            raise CreditCodeTaken("another customer has this credit code")
        changes["credit_code"] = code
    if "name" in changes and not changes["name"]:
        raise ProfileError("the legal name cannot be empty")
    diff = {key: (getattr(customer, key), value) for key, value in changes.items() if getattr(customer, key) != value}
    if not diff:
        return {}
    for key, (_before, after) in diff.items():
        setattr(customer, key, after)
    customer.profile_updated_at = now
    record(
        session,
        "profile.staff_update" if by_staff else "profile.update",
        actor_id=actor_id,
        customer_id=customer.id,
        region_id=customer.region_id,
        ip=ip,
        detail={"changes": {key: {"before": b, "after": a} for key, (b, a) in diff.items()}},
        now=now,
    )
    session.flush()
    return diff
