"""Allocation, collection and deposits: the rules, on a Session (flush, never commit).

An allocation or collection is two steps. `prepare_batch` checks the lines and stores a draft whose
random id is the idempotency key shown to the admin; `confirm_batch` posts the draft as ONE ledger
batch whose transfer ids derive from that key. Confirming again (double click, browser retry, a
second tab) finds the posted batch and posts nothing; two confirmations at once are taken one after
the other (`claim_batch`, portal.idempotency), so the second finds the batch posted. Which cards
may take part is `plan.card_refusal`; balances are read through the ledger's read API
(`portal.ledger.balances`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal import idempotency, ledger
from portal.audit.services import record
from portal.cards.models import Card
from portal.cards.services import card_search
from portal.customers.models import Customer
from portal.funds.models import Deposit, FundsBatch, FundsBatchLine
from portal.funds.plan import CardInfo, LineError, PlannedLine, PlanRejected, RawLine, card_refusal, plan
from portal.ledger import memos
from portal.queries.pages import NumberedPage, numbered_rows
from portal.webhooks import events as webhooks
from portal.webhooks import payloads

#: A preview older than this must be redone: balances may have moved since.
DRAFT_LIFETIME = timedelta(hours=1)


class FundsError(Exception):
    """An operation refused by the rules. `code` is stable (the web layer translates it)."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(message)
        self.code = code
        self.params = params


def new_key() -> str:
    return uuid.uuid4().hex


def customer_cards(session: Session, customer_id: int, *, include_closed: bool = False) -> list[Card]:
    """The customer's sub-cards in number order."""
    stmt = select(Card).where(Card.customer_id == customer_id, Card.role == "sub")
    if not include_closed:
        stmt = stmt.where(Card.status != "closed")
    return list(session.scalars(stmt.order_by(Card.number)))


def matching(customer_id: int, query: str = ""):
    """The customer's sub-cards (closed ones left out) whose number, nickname, driver or plate
    contains `query`, in number order: what the allocation and collection tables list and what
    "select all matching" acts on (a statement: the tables count and page it in SQL)."""
    return card_search(customer_id, query=query).where(Card.status != "closed")


def matching_cards(session: Session, customer_id: int, query: str = "") -> list[Card]:
    return list(session.scalars(matching(customer_id, query)))


def card_infos(session: Session, customer_id: int) -> dict[str, CardInfo]:
    """Every card of the customer (main card included, so the rules can name it) by number."""
    cards = list(session.scalars(select(Card).where(Card.customer_id == customer_id)))
    balances = ledger.many_card_balances(session, [c.id for c in cards])
    return {
        c.number: CardInfo(
            id=c.id,
            number=c.number,
            role=c.role,
            status=c.status,
            reserve=balances[c.id].reserve.posted,
            reserve_available=balances[c.id].reserve.available,
        )
        for c in cards
    }


def prepare_batch(
    session: Session,
    *,
    customer_id: int,
    kind: str,
    lines: list[RawLine],
    actor_id: int,
    now: datetime,
    source: str = "form",
    skip_blank: bool = False,
    key: str | None = None,
) -> FundsBatch:
    """Check `lines` and store a draft batch (nothing moves). Raises PlanRejected with every problem."""
    unit_available = ledger.customer_balances(session, customer_id).unit.available
    planned = plan(
        lines, card_infos(session, customer_id), kind=kind, unit_available=unit_available, skip_blank=skip_blank
    )
    batch = FundsBatch(
        id=key or new_key(),
        customer_id=customer_id,
        kind=kind,
        status="draft",
        source=source,
        total=sum(p.amount for p in planned),
        line_count=len(planned),
        created_by=actor_id,
        created_at=now,
        lines=[
            FundsBatchLine(customer_id=customer_id, line_no=p.line_no, card_id=p.card.id, amount=p.amount)
            for p in planned
        ],
    )
    session.add(batch)
    session.flush()
    return batch


def get_batch(session: Session, batch_id: str, customer_id: int, *, lock: bool = False) -> FundsBatch | None:
    """The customer's batch with this id, or None (other customers' batches do not exist for them)."""
    stmt = select(FundsBatch).where(FundsBatch.id == batch_id, FundsBatch.customer_id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def claim_batch(session: Session, batch_id: str, *, reread: tuple[FundsBatch, ...] = ()) -> None:
    """Take the batch's idempotency key (portal.idempotency) before reading its status."""
    idempotency.claim(session, "funds-batch", batch_id, reread=reread)


def confirm_batch(session: Session, batch: FundsBatch, *, actor_id: int, now: datetime, ip: str = "") -> FundsBatch:
    """Post a draft as one atomic ledger batch. A posted batch is returned unchanged (idempotent,
    also for a copy confirmed at the same moment: it waits for the first and finds it posted).

    Raises FundsError if the preview is too old, or if balances moved since the preview so that
    the batch no longer fits (nothing is applied then).
    """
    claim_batch(session, batch.id, reread=(batch,))
    if batch.status == "posted":
        return batch
    if now - batch.created_at > DRAFT_LIFETIME:
        raise FundsError("draft_expired", "This preview is too old; start again.")
    ledger.open_customer_accounts(session, batch.customer_id)
    unit = ledger.unit_account(session, batch.customer_id)
    reserves = _reserve_account_ids(session, batch.customer_id, [line.card_id for line in batch.lines])
    requests = []
    for line in batch.lines:
        reserve_id = reserves[line.card_id]
        debit, credit = (unit.id, reserve_id) if batch.kind == "allocation" else (reserve_id, unit.id)
        requests.append(
            ledger.TransferRequest(
                id=f"{_PREFIX[batch.kind]}:{batch.id}:{line.line_no}",
                debit_account_id=debit,
                credit_account_id=credit,
                amount=line.amount,
                code=batch.kind,
                actor_id=actor_id,
                memo=memos.structured(batch=batch.id),
            )
        )
    _check_cards_still_usable(session, batch)
    try:
        ledger.transfer_batch(
            session, requests, now=now, customer_id=batch.customer_id, batch_id=f"{_PREFIX[batch.kind]}:{batch.id}"
        )
    except ledger.InsufficientFunds as exc:
        raise FundsError("insufficient", "Balances changed since the preview; not enough funds.",
                         available=exc.available) from exc  # fmt: skip
    except (ledger.AccountFrozen, ledger.AccountClosed) as exc:
        raise FundsError("account_unusable", str(exc)) from exc
    balances = ledger.many_card_balances(session, [line.card_id for line in batch.lines])
    for line in batch.lines:
        line.reserve_after = balances[line.card_id].reserve.posted
    batch.unit_balance_after = ledger.customer_balances(session, batch.customer_id).unit.posted
    batch.status = "posted"
    batch.posted_at = now
    batch.posted_by = actor_id
    record(
        session,
        f"funds.{batch.kind}",
        actor_id=actor_id,
        customer_id=batch.customer_id,
        ip=ip,
        detail={"batch": batch.id, "total": batch.total, "cards": batch.line_count},
        now=now,
    )
    session.flush()
    _announce_batch(session, batch, now)
    return batch


def _announce_batch(session: Session, batch: FundsBatch, now: datetime) -> None:
    """allocation.confirmed / collection.confirmed, and unit_balance.below_threshold to the endpoints
    whose threshold this allocation crossed (the balance was at or above it before, below it after)."""
    webhooks.emit(session, batch.customer_id, f"{batch.kind}.confirmed", lambda: payloads.funds_batch(session, batch),
                  now=now, subject=f"funds_batch:{batch.id}")  # fmt: skip
    if batch.kind != "allocation":
        return
    after, before = batch.unit_balance_after, batch.unit_balance_after + batch.total
    data = {"unit_balance_fen": after, "previous_balance_fen": before, "batch_id": batch.id}
    webhooks.emit(session, batch.customer_id, "unit_balance.below_threshold", data, now=now,
                  only=lambda row: row.unit_balance_threshold_fen is not None
                  and after < row.unit_balance_threshold_fen <= before)  # fmt: skip


_PREFIX = {"allocation": "alloc", "collection": "collect"}


def _reserve_account_ids(session: Session, customer_id: int, card_ids: list[int]) -> dict[int, int]:
    """{card id: reserve account id} in one query; opens the accounts of cards that have none yet."""
    stmt = select(ledger.Account.card_id, ledger.Account.id).where(
        ledger.Account.card_id.in_(card_ids), ledger.Account.kind == "reserve"
    )
    found = dict(session.execute(stmt).all())
    missing = [card_id for card_id in card_ids if card_id not in found]
    for card_id in missing:
        ledger.open_card_accounts(session, customer_id, card_id)
    if missing:
        found = dict(session.execute(stmt).all())
    return found


def _check_cards_still_usable(session: Session, batch: FundsBatch) -> None:
    """A card lost or closed between preview and confirmation is refused like at preview."""
    cards = {c.id: c for c in session.scalars(select(Card).where(Card.id.in_([ln.card_id for ln in batch.lines])))}
    for line in batch.lines:
        card = cards[line.card_id]
        refusal = card_refusal(card.status, batch.kind)
        if refusal:
            raise PlanRejected([LineError(line.line_no, refusal, {"card": card.number})])


def preview_rows(
    session: Session, batch: FundsBatch, lines: list[FundsBatchLine] | None = None
) -> list[tuple[FundsBatchLine, Card, int, int]]:
    """(line, card, reserve now, reserve after) for the preview page: of `lines` (a page of the
    batch's lines), or of every line."""
    lines = batch.lines if lines is None else lines
    cards = {c.id: c for c in session.scalars(select(Card).where(Card.id.in_([ln.card_id for ln in lines])))}
    balances = ledger.many_card_balances(session, cards)
    sign = 1 if batch.kind == "allocation" else -1
    rows = []
    for line in lines:
        reserve = balances[line.card_id].reserve.posted
        rows.append((line, cards[line.card_id], reserve, reserve + sign * line.amount))
    return rows


def posted_batches(customer_id: int, *, kind: str):
    """The customer's posted batches of `kind`, newest first (a statement: the pages take the
    latest, the API pages through them all by (posted_at, id))."""
    return (
        select(FundsBatch)
        .where(FundsBatch.customer_id == customer_id, FundsBatch.kind == kind, FundsBatch.status == "posted")
        .order_by(FundsBatch.posted_at.desc(), FundsBatch.id.desc())
    )


def recent_batches(session: Session, customer_id: int, *, kind: str, limit: int = 20) -> list[FundsBatch]:
    return list(session.scalars(posted_batches(customer_id, kind=kind).limit(limit)))


def record_deposit(
    session: Session,
    *,
    key: str,
    customer: Customer,
    amount: int,
    bank_reference: str,
    memo: str,
    actor_id: int,
    now: datetime,
    ip: str = "",
) -> Deposit:
    """Credit the customer's unit account with a bank transfer. Idempotent on `key`, also for two
    copies of the form sent at once; a bank reference is credited at most once per customer."""
    idempotency.claim(session, "deposit", key)
    existing = _deposit_replayed(session, key, customer.id, amount)
    if existing is not None:
        return existing
    bank_reference = _new_bank_reference(session, customer.id, bank_reference)
    ledger.open_customer_accounts(session, customer.id)
    transfer_id = f"deposit:{key}"
    ledger.transfer(
        session,
        ledger.TransferRequest(
            id=transfer_id,
            debit_account_id=ledger.system_account(session, "deposits_clearing").id,
            credit_account_id=ledger.unit_account(session, customer.id).id,
            amount=amount,
            code="deposit",
            actor_id=actor_id,
            memo=memos.structured(bank=bank_reference[:100]),
        ),
        now=now,
    )
    deposit = Deposit(
        key=key,
        customer_id=customer.id,
        amount=amount,
        bank_reference=bank_reference,
        memo=memo.strip(),
        transfer_id=transfer_id,
        recorded_by=actor_id,
        recorded_at=now,
    )
    session.add(deposit)
    record(
        session,
        "funds.deposit",
        actor_id=actor_id,
        customer_id=customer.id,
        region_id=customer.region_id,
        ip=ip,
        detail={"amount": amount, "bank_reference": bank_reference},
        now=now,
    )
    session.flush()
    return deposit


def _deposit_replayed(session: Session, key: str, customer_id: int, amount: int) -> Deposit | None:
    """The deposit this form already recorded (a double submit), or None; FundsError if the key was
    used for a different deposit."""
    existing = session.scalar(select(Deposit).where(Deposit.key == key))
    if existing is not None and (existing.customer_id != customer_id or existing.amount != amount):
        raise FundsError("conflict", "This form was already used for a different deposit; reload the page.")
    return existing


def _new_bank_reference(session: Session, customer_id: int, bank_reference: str) -> str:
    """The reference, trimmed; FundsError if it is empty or already credited to this customer."""
    bank_reference = bank_reference.strip()
    if not bank_reference:
        raise FundsError("reference_required", "Enter the bank transfer reference.")
    # Two forms naming one transfer at once: the second waits, then finds it recorded.
    idempotency.claim(session, "deposit-reference", customer_id, bank_reference)
    duplicate = session.scalar(
        select(Deposit).where(Deposit.customer_id == customer_id, Deposit.bank_reference == bank_reference)
    )
    if duplicate is not None:
        raise FundsError("duplicate_reference", "This bank reference was already recorded for this customer.")
    return bank_reference


def deposit_search(*, customer_id: int | None = None, region_id: int | None = None, query: str = ""):
    """The deposits of one customer, or of every customer of a region, whose bank reference or
    customer name contains `query`, newest first by (recorded_at, id): a statement (the pages
    number it, the API pages it by key)."""
    stmt = select(Deposit).join(Customer, Customer.id == Deposit.customer_id)
    if customer_id is not None:
        stmt = stmt.where(Deposit.customer_id == customer_id)
    if region_id is not None:
        stmt = stmt.where(Customer.region_id == region_id)
    if query.strip():
        text = query.strip()
        stmt = stmt.where(
            or_(Deposit.bank_reference.contains(text, autoescape=True), Customer.name.contains(text, autoescape=True))
        )
    return stmt.order_by(Deposit.recorded_at.desc(), Deposit.id.desc())


def deposits_for(
    session: Session,
    *,
    customer_id: int | None = None,
    region_id: int | None = None,
    query: str = "",
    page: object = 1,
    size: int = 50,
) -> NumberedPage:
    """Page `page` of the deposits of one customer, or of every customer of a region (staff), newest
    first, optionally those whose bank reference or customer name contains `query`. Rows are
    (deposit, customer); the page says how many there are in all, so none is cut off unseen."""
    stmt = deposit_search(customer_id=customer_id, region_id=region_id, query=query)
    found = numbered_rows(session, stmt, page, size)
    customers = {
        c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_({d.customer_id for d in found.rows})))
    }
    rows = [(deposit, customers[deposit.customer_id]) for deposit in found.rows]
    return NumberedPage(rows, found.number, found.pages, found.total, found.size)


__all__ = ["FundsError", "PlanRejected", "PlannedLine", "prepare_batch", "confirm_batch", "record_deposit"]
