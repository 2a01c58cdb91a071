"""Loss reporting (卡片挂失), cancelling it (解挂) and replacing the card (补卡).

Timeline of a report made at t:
- t: the card is blocked for new purchases, its reserve and points accounts are frozen (no
  allocation, collection or load touches a lost card). The purse stays open because offline
  terminals may still upload purchases made before the loss takes full effect.
- t + effect (24 h): full effect; no purchase made after this is accepted, offline or not.
- before replacement: an admin may cancel the report (password re-entered): the card is active again.
- t + replacement wait (7 days): an admin may replace the card: a new card number, and the old card's
  reserve, host-known chip (purse) balance and points move to the new card in ONE ledger batch
  (code `replacement`); the old card and its accounts are closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import idempotency, ledger
from portal.audit.services import record
from portal.cards.errors import (
    AlreadyReported,
    CardNotActive,
    FundsInFlight,
    PasswordNotConfirmed,
    ReplacementTooEarly,
    ReportNotOpen,
)
from portal.cards.models import LOSS_REASONS, Card, CardControls, LossReport
from portal.cards.numbers import is_valid_card_number, next_card_number, region_code_of
from portal.cards.services import lock_card  # two reports of one card queue up
from portal.customers.models import Customer
from portal.ledger import memos
from portal.queries.pages import NumberedPage, numbered_rows
from portal.webhooks import events as webhooks
from portal.webhooks import payloads

#: Defaults; the app reads LOSS_EFFECT_HOURS and REPLACEMENT_DAYS from its config.
LOSS_EFFECT_HOURS = 24
REPLACEMENT_DAYS = 7

#: Accounts frozen while a card is lost: reserve and points. Not the purse (see the module doc).
FROZEN_KINDS = ("reserve", "points")
#: Accounts whose balance a replacement card takes over, and which are then closed.
CARRIED_KINDS = ("reserve", "purse", "points")


@dataclass(frozen=True)
class LossPolicy:
    effect: timedelta = timedelta(hours=LOSS_EFFECT_HOURS)
    replacement_wait: timedelta = timedelta(days=REPLACEMENT_DAYS)

    @classmethod
    def from_config(cls, config: Mapping) -> LossPolicy:
        return cls(
            effect=timedelta(hours=config.get("LOSS_EFFECT_HOURS", LOSS_EFFECT_HOURS)),
            replacement_wait=timedelta(days=config.get("REPLACEMENT_DAYS", REPLACEMENT_DAYS)),
        )


# --- reading ----------------------------------------------------------------------------------------


def open_report(session: Session, card_id: int) -> LossReport | None:
    return session.scalar(select(LossReport).where(LossReport.card_id == card_id, LossReport.status == "open"))


def customer_reports(session: Session, customer_id: int) -> list[LossReport]:
    """Every loss report of the customer, newest first."""
    return list(
        session.scalars(report_search(customer_id).order_by(LossReport.reported_at.desc(), LossReport.id.desc()))
    )


def reports_page(
    session: Session, customer_id: int, *, card_ids: Iterable[int] | None = None, page: object = 1, size: int = 50
) -> NumberedPage:
    """Page `page` of the customer's loss reports (only those of `card_ids` when given: a driver's
    cards), open ones first so none that still needs acting on drops out of reach, then newest first."""
    stmt = report_search(customer_id, card_ids=card_ids).order_by(
        (LossReport.status == "open").desc(), LossReport.reported_at.desc(), LossReport.id.desc()
    )
    return numbered_rows(session, stmt, page, size)


def report_search(customer_id: int, *, card_ids: Iterable[int] | None = None):
    stmt = select(LossReport).where(LossReport.customer_id == customer_id)
    if card_ids is not None:
        stmt = stmt.where(LossReport.card_id.in_(list(card_ids)))
    return stmt


def is_blocked(card: Card) -> bool:
    """The blacklist flag the chip and the pumps get: no new purchases on a lost or closed card."""
    return card.status != "active"


def purchase_refusal(session: Session, card: Card, *, made_at: datetime, online: bool) -> str | None:
    """Why a purchase on this card must be refused ("card_lost", "card_closed"), or None.

    Online purchases are refused from the moment of the report. An offline terminal uploading later
    is still believed for purchases made before the loss took full effect.
    """
    if card.status == "active":
        return None
    if card.status == "closed":
        # A replaced card's last offline purchases may arrive late too, if made before full effect.
        report = session.scalar(
            select(LossReport).where(LossReport.card_id == card.id, LossReport.status == "replaced")
        )
        if report is not None and not online and made_at < report.effective_at:
            return None
        return "card_closed"
    report = open_report(session, card.id)
    if report is not None and not online and made_at < report.effective_at:
        return None
    return "card_lost"


def replacement_allowed(report: LossReport, now: datetime) -> bool:
    return report.status == "open" and now >= report.replaceable_from


# --- actions ----------------------------------------------------------------------------------------


def _card_accounts(session: Session, card_id: int, kinds) -> list:
    accounts = []
    for kind in kinds:
        try:
            accounts.append(ledger.card_account(session, card_id, kind))
        except ledger.UnknownAccount:
            continue  # a card without accounts (e.g. never funded) has nothing to freeze or carry
    return accounts


def report_loss(
    session: Session,
    card: Card,
    *,
    reason: str,
    note: str = "",
    actor_id: int | None,
    now: datetime,
    policy: LossPolicy = LossPolicy(),
    ip: str = "",
) -> LossReport:
    """Report `card` lost. It is blocked at once; see the module doc for what follows."""
    if reason not in LOSS_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    card = lock_card(session, card)
    if card.status == "lost":
        raise AlreadyReported("the card is already reported lost")
    if card.status != "active":
        raise CardNotActive("the card is closed")
    report = LossReport(
        card_id=card.id,
        customer_id=card.customer_id,
        reason=reason,
        note=note.strip()[:256],
        status="open",
        reported_at=now,
        reported_by_id=actor_id,
        effective_at=now + policy.effect,
        replaceable_from=now + policy.replacement_wait,
    )
    session.add(report)
    card.status = "lost"
    for account in _card_accounts(session, card.id, FROZEN_KINDS):
        ledger.freeze_account(session, account.id)
    session.flush()
    record(
        session,
        "cards.report_loss",
        actor_id=actor_id,
        customer_id=card.customer_id,
        ip=ip,
        detail={"card": card.number, "report_id": report.id, "reason": reason},
        now=now,
    )
    _announce_loss(session, report, now=now)
    return report


def _announce_loss(session: Session, report: LossReport, *, now: datetime) -> None:
    """card.reported_lost now, and card.loss_effective due when the loss takes full effect (withdrawn
    if the report is cancelled before)."""
    data = lambda: payloads.loss_report(session, report)  # noqa: E731
    webhooks.emit(session, report.customer_id, "card.reported_lost", data, now=now, subject=f"loss_report:{report.id}")
    webhooks.emit(session, report.customer_id, "card.loss_effective", data, now=report.effective_at,
                  subject=f"loss_report:{report.id}", due_at=report.effective_at)  # fmt: skip


def _lock_report(session: Session, report: LossReport) -> LossReport:
    return session.scalars(
        select(LossReport).where(LossReport.id == report.id).with_for_update().execution_options(populate_existing=True)
    ).one()


def cancel_loss(
    session: Session,
    report: LossReport,
    *,
    actor_id: int | None,
    now: datetime,
    password_confirmed: bool,
    ip: str = "",
) -> LossReport:
    """解挂: the card is active again. Only before a replacement, only with the password re-entered."""
    if not password_confirmed:
        raise PasswordNotConfirmed("re-enter your password to cancel a loss report")
    report = _lock_report(session, report)
    if report.status != "open":
        raise ReportNotOpen("this loss report is no longer open")
    card = lock_card(session, session.get(Card, report.card_id))
    report.status, report.cancelled_at, report.cancelled_by_id = "cancelled", now, actor_id
    card.status = "active"
    for account in _card_accounts(session, card.id, FROZEN_KINDS):
        ledger.unfreeze_account(session, account.id)
    session.flush()
    record(
        session,
        "cards.cancel_loss",
        actor_id=actor_id,
        customer_id=card.customer_id,
        ip=ip,
        detail={"card": card.number, "report_id": report.id},
        now=now,
    )
    webhooks.withdraw(session, report.customer_id, "card.loss_effective", f"loss_report:{report.id}", now=now)
    return report


def _issue_replacement_card(session: Session, old: Card, now: datetime) -> Card:
    """A new card for the same customer, driver, vehicle and nickname, with the next free number."""
    if is_valid_card_number(old.number):
        region_code = region_code_of(old.number)
    else:
        region_code = session.get(Customer, old.customer_id).region.code
    for _attempt in range(5):
        new = Card(
            number=next_card_number(session, region_code),
            customer_id=old.customer_id,
            role=old.role,
            status="active",
            nickname=old.nickname,
            driver_id=old.driver_id,
            vehicle_id=old.vehicle_id,
            issued_at=now,
            expires_on=old.expires_on,
            replaces_card_id=old.id,
        )
        try:
            with session.begin_nested():
                session.add(new)
        except IntegrityError:
            continue  # someone issued the same number a moment ago: take the next one
        return new
    raise RuntimeError("could not find a free card number")


def replace_card(
    session: Session,
    report: LossReport,
    *,
    actor_id: int | None,
    now: datetime,
    password_confirmed: bool,
    idempotency_key: str,
    ip: str = "",
) -> Card:
    """补卡: issue a new card and move the old card's funds to it; close the old card.

    `idempotency_key` comes from the form: submitting the same form again returns the card the first
    submission made instead of failing, also when both arrive at once (the key is claimed first,
    portal.idempotency; the ledger ids derive from the report, so money can never move twice).
    """
    if not password_confirmed:
        raise PasswordNotConfirmed("re-enter your password to replace a card")
    idempotency.claim(session, "card-replacement", idempotency_key)
    report = _lock_report(session, report)
    if report.status == "replaced" and report.replacement_key == idempotency_key:
        return session.get(Card, report.replacement_card_id)
    if report.status != "open":
        raise ReportNotOpen("this loss report is no longer open")
    if now < report.replaceable_from:
        raise ReplacementTooEarly("the card cannot be replaced yet", replaceable_from=report.replaceable_from)
    old = lock_card(session, session.get(Card, report.card_id))
    old_accounts = _card_accounts(session, old.id, CARRIED_KINDS)
    # Balances under the ledger's row locks: an offline purchase uploaded meanwhile cannot slip between.
    states = ledger.lock_accounts(session, [account.id for account in old_accounts])
    if any(state.debits_pending for state in states.values()):
        raise FundsInFlight("a load onto the chip is still pending")

    new = _issue_replacement_card(session, old, now)
    _carry_controls(session, old, new, actor_id=actor_id, now=now)
    moves = _carry_balances(session, report, old, new, old_accounts, states, actor_id=actor_id, now=now)

    old.status = "closed"
    report.status, report.replaced_at, report.replaced_by_id = "replaced", now, actor_id
    report.replacement_card_id, report.replacement_key = new.id, idempotency_key
    session.flush()
    record(
        session,
        "cards.replace",
        actor_id=actor_id,
        customer_id=old.customer_id,
        ip=ip,
        detail={
            "card": old.number,
            "new_card": new.number,
            "report_id": report.id,
            "moved": {move.id.rsplit(":", 1)[1]: move.amount for move in moves},
        },
        now=now,
    )
    webhooks.emit(session, old.customer_id, "card.replaced", lambda: payloads.loss_report(
        session, report, new_card_number=new.number, moved_fen={m.id.rsplit(":", 1)[1]: m.amount for m in moves},
    ), now=now, subject=f"loss_report:{report.id}")  # fmt: skip
    return new


def _carry_controls(session: Session, old: Card, new: Card, *, actor_id: int | None, now: datetime) -> None:
    """The new card starts with the old card's controls (version 1: the new chip has none yet)."""
    controls = session.get(CardControls, old.id)
    if controls is not None:
        session.add(
            CardControls(
                card_id=new.id,
                customer_id=new.customer_id,
                version=1,
                template_id=controls.template_id,
                updated_at=now,
                updated_by_id=actor_id,
                **{name: getattr(controls, name) for name in _CONTROL_COLUMNS},
            )
        )


def _carry_balances(
    session: Session,
    report: LossReport,
    old: Card,
    new: Card,
    old_accounts: list,
    states: Mapping,
    *,
    actor_id: int | None,
    now: datetime,
) -> list[ledger.TransferRequest]:
    """Move every balance of the old card's accounts (locked: `states`) to the new card's, in one
    ledger batch, and close the old accounts. Returns the moves made."""
    moves = []
    if old_accounts:
        ledger.open_card_accounts(session, new.customer_id, new.id)
        for account in old_accounts:
            amount = ledger.balance(states[account.id])
            if amount > 0:
                target = ledger.card_account(session, new.id, account.kind)
                moves.append(
                    ledger.TransferRequest(
                        id=f"replacement:{report.id}:{account.kind}",
                        debit_account_id=account.id,
                        credit_account_id=target.id,
                        amount=amount,
                        code="replacement",
                        actor_id=actor_id,
                        memo=memos.structured(old_card=old.number, new_card=new.number),
                    )
                )
        if moves:
            ledger.transfer_batch(session, moves, now=now, customer_id=old.customer_id)
        for account in old_accounts:
            ledger.close_account(session, account.id)
    return moves


_CONTROL_COLUMNS = (
    "per_purchase_limit_fen",
    "daily_amount_limit_fen",
    "daily_count_limit",
    "daily_litres_limit_ml",
    "allowed_products",
    "allowed_region_ids",
    "allowed_station_ids",
    "plate_lock",
    "hours_start_min",
    "hours_end_min",
)
