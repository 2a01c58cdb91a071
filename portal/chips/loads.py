"""Loading funds onto a chip (资金圈存): reserve -> purse as a two-phase ledger transfer.

request: a pending transfer holds the amount on the reserve. The chip write (reader, or the card's
next contact with a station) posts it; cancelling or expiry voids it. The chip records the load
request id with the credit, so a write that is retried, or that succeeded while the host did not
hear back, is recognised at the next sync and posted exactly once. The load request's id is the
idempotency key of requesting, writing and cancelling: each claims it first (portal.idempotency),
so copies of one form sent at once are answered one after the other, the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from portal import idempotency, ledger
from portal.audit.services import record
from portal.cards.models import Card
from portal.chips.models import LoadRequest
from portal.chips.reader import CardReader, ReaderError
from portal.ledger import memos
from portal.queries.cursor import Key
from portal.queries.pages import Page, after, ordering, page_of
from portal.webhooks import events as webhooks
from portal.webhooks import payloads

#: How long a requested load waits for a chip write before the hold is released.
DEFAULT_LOAD_EXPIRY = timedelta(hours=72)


def load_expiry(setting: timedelta | float | int | None) -> timedelta:
    """How long a load waits for its chip write: the CHIP_LOAD_EXPIRY setting (a timedelta, or hours)."""
    if setting is None:
        return DEFAULT_LOAD_EXPIRY
    return setting if isinstance(setting, timedelta) else timedelta(hours=setting)


class LoadError(Exception):
    """A load refused by the rules. `code` is stable (the web layer translates it)."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(message)
        self.code = code
        self.params = params


def _pending_id(load_id: str) -> str:
    return f"load:{load_id}"


#: The claim scope of a card's chip work: a sync, and writing or cancelling one of its loads.
CARD_CHIP_WORK = "chip-sync"


def _claim(session: Session, load_id: str, *, reread: tuple[LoadRequest, ...] = ()) -> None:
    idempotency.claim(session, "chip-load", load_id, reread=reread)


def _claim_on_card(session: Session, load: LoadRequest) -> None:
    """Wait for a sync of the card (which may post or void this very load) and for copies of this
    request: card first, then the load, as sync takes the card's before its locks."""
    idempotency.claim(session, CARD_CHIP_WORK, load.card_id)
    _claim(session, load.id, reread=(load,))


def request_load(
    session: Session,
    *,
    load_id: str,
    card: Card,
    amount: int,
    actor_id: int | None,
    now: datetime,
    expiry: timedelta = DEFAULT_LOAD_EXPIRY,
) -> LoadRequest:
    """Hold `amount` of the card's reserve for its chip. Idempotent on `load_id`."""
    _claim(session, load_id)
    existing = session.get(LoadRequest, load_id, populate_existing=True)
    if existing is not None:
        if existing.card_id != card.id or existing.amount != amount:
            raise LoadError("conflict", "This form was already used for a different load; reload the page.")
        return existing
    if card.role != "sub":
        raise LoadError("not_sub_card", "Only sub-cards carry a chip purse to load.")
    if card.status != "active":
        raise LoadError("card_not_active", "The card is lost or closed; it cannot be loaded.")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise LoadError("bad_amount", "The amount must be more than zero.")
    ledger.open_card_accounts(session, card.customer_id, card.id)
    reserve = ledger.card_account(session, card.id, "reserve")
    purse = ledger.card_account(session, card.id, "purse")
    try:
        ledger.create_pending(
            session,
            ledger.TransferRequest(
                id=_pending_id(load_id),
                debit_account_id=reserve.id,
                credit_account_id=purse.id,
                amount=amount,
                code="load",
                actor_id=actor_id,
                memo=memos.structured(load=load_id[:64]),
            ),
            now=now,
            expires_at=now + expiry,
        )
    except ledger.InsufficientFunds as exc:
        raise LoadError(
            "reserve_insufficient", "The card's reserve does not hold that much.", available=exc.available
        ) from exc
    load = LoadRequest(
        id=load_id,
        customer_id=card.customer_id,
        card_id=card.id,
        amount=amount,
        status="pending",
        requested_by=actor_id,
        requested_at=now,
        expires_at=now + expiry,
    )
    session.add(load)
    record(session, "chips.load_requested", actor_id=actor_id, customer_id=card.customer_id, now=now,
           detail={"load": load_id, "card": card.number, "amount": amount})  # fmt: skip
    _announce(session, load, now)
    return load


def post_load(session: Session, load: LoadRequest, *, now: datetime, chip_counter: int, actor_id: int | None) -> bool:
    """The chip holds the credit: post the pending transfer. False if the hold had already lapsed."""
    if load.status == "loaded":
        return True
    try:
        ledger.post_pending(session, f"load-post:{load.id}", _pending_id(load.id), now=now, actor_id=actor_id)
    except (ledger.PendingExpired, ledger.PendingAlreadyResolved):
        # The chip was credited after the hold lapsed: the host stays right (money not moved) and
        # the difference shows on the read-chip page until staff reconcile it.
        _mark(load, "expired", now, actor_id)
        _announce(session, load, now)
        return False
    _mark(load, "loaded", now, actor_id)
    load.chip_counter = chip_counter
    session.flush()
    _announce(session, load, now)
    return True


def write_load(session: Session, reader: CardReader, load: LoadRequest, *, now: datetime, actor_id: int | None):
    """Write a pending load to the chip in the reader, then post it. Raises LoadError if it cannot.
    Writing a load that is on the chip already (a double submit, also one sent at once: it waits
    for the first) answers as the first write did, and writes nothing."""
    _claim_on_card(session, load)
    if load.status == "loaded":
        return True
    return write_claimed_load(session, reader, load, now=now, actor_id=actor_id)


def write_claimed_load(
    session: Session, reader: CardReader, load: LoadRequest, *, now: datetime, actor_id: int | None
) -> bool:
    """`write_load` without the claim, for card sync: it already serializes on the card, and holds
    the card's locks by then (taking the load's claim after them could deadlock with a write)."""
    card = session.get(Card, load.card_id)
    if load.status != "pending":
        raise LoadError("not_pending", "This load is no longer waiting to be written.")
    if load.expires_at <= now:
        expire_loads(session, now=now, card_id=load.card_id)
        raise LoadError("expired", "This load request has expired; request it again.")
    if card.status != "active":
        raise LoadError("card_not_active", "The card is lost or closed; it cannot be loaded.")
    try:
        entry = reader.credit_purse(card.number, amount=load.amount, load_id=load.id, at=now)
    except ReaderError as exc:
        raise LoadError("reader", str(exc)) from exc
    return post_load(session, load, now=now, chip_counter=entry.counter, actor_id=actor_id)


def cancel_load(session: Session, load: LoadRequest, *, now: datetime, actor_id: int | None) -> None:
    """Void the hold; the reserve is free again. Cancelling twice is harmless, also at once, and a
    sync of the card at the same time either writes it first (then it is loaded) or finds it cancelled."""
    _claim_on_card(session, load)
    if load.status in ("cancelled", "expired"):
        return
    if load.status != "pending":
        raise LoadError("not_pending", "This load is already on the chip; it cannot be cancelled.")
    try:
        ledger.void_pending(
            session,
            f"load-void:{load.id}",
            _pending_id(load.id),
            now=now,
            actor_id=actor_id,
            memo=memos.structured(reason="cancelled"),
        )
    except ledger.PendingAlreadyResolved:
        _mark(load, "expired", now, actor_id)
        _announce(session, load, now)
        return
    _mark(load, "cancelled", now, actor_id)
    record(session, "chips.load_cancelled", actor_id=actor_id, customer_id=load.customer_id, now=now,
           detail={"load": load.id, "amount": load.amount})  # fmt: skip


def expire_loads(session: Session, *, now: datetime, card_id: int | None = None) -> int:
    """Void every pending load whose time is up (all cards, or one) in the caller's transaction (a
    card sync, which holds the card's claim already). Returns how many. The job uses
    `expire_overdue_loads` (committed batches)."""
    stmt = select(LoadRequest).where(LoadRequest.status == "pending", LoadRequest.expires_at <= now)
    if card_id is not None:
        stmt = stmt.where(LoadRequest.card_id == card_id)
    count = 0
    for load in session.scalars(stmt.order_by(LoadRequest.requested_at)).all():
        _void_expired(session, load, now)
        count += 1
    session.flush()
    return count


def _void_expired(session: Session, load: LoadRequest, now: datetime) -> None:
    """Void a pending load's hold as expired, with its reason, and mark it: the one way a load expires
    (a card sync's `expire_loads` and the job's `expire_overdue_loads` alike)."""
    try:
        ledger.void_pending(
            session, f"load-void:{load.id}", _pending_id(load.id), now=now, memo=memos.structured(reason="expired")
        )
    except ledger.PendingAlreadyResolved:
        pass  # the ledger's own expiry run got there first
    _mark(load, "expired", now, None)
    _announce(session, load, now)


@dataclass
class LoadExpiry:
    """What a run of `expire_overdue_loads` did."""

    expired: int = 0
    #: Loads that could not be expired this time: load id -> the error. They stay pending, for the
    #: next run; the others expire regardless.
    failed: dict[str, str] = field(default_factory=dict)


def _overdue_batch(session: Session, now: datetime, after: str, size: int) -> list[LoadRequest]:
    """The next `size` pending loads past their hold, after id `after`, by id."""
    stmt = select(LoadRequest).where(
        LoadRequest.status == "pending", LoadRequest.expires_at <= now, LoadRequest.id > after
    )
    return list(session.scalars(stmt.order_by(LoadRequest.id).limit(size)))


def _expire_overdue(session: Session, load: LoadRequest, now: datetime) -> bool:
    """Void one overdue load, serialized with a sync, write or cancel of its card as they are with
    each other (the claim reads it again); False if it was resolved meanwhile (written, cancelled,
    expired by another run)."""
    _claim_on_card(session, load)
    if load.status != "pending" or load.expires_at > now:
        return False
    _void_expired(session, load, now)
    session.flush()
    return True


def expire_overdue_loads(
    session: Session,
    *,
    now: datetime,
    batch_size: int = 100,
    end_batch: Callable[[], None] | None = None,
) -> LoadExpiry:
    """Void every pending load whose hold has lapsed (the expire-loads job), `batch_size` at a time:
    `end_batch` (the caller's commit) is called after each batch, so a run stopped half-way keeps
    what it did. Idempotent: a load resolved meanwhile is left alone, a second run finds nothing.
    A load that fails (a ledger refusal, a database error) is rolled back alone, reported in
    `failed` and left pending for the next run; it never stops the others."""
    result = LoadExpiry()
    after = ""
    while batch := _overdue_batch(session, now, after, batch_size):
        for load in batch:
            load_id = load.id  # still readable after a failed load's rollback expired the object
            try:
                with session.begin_nested():
                    result.expired += _expire_overdue(session, load, now)
            except (ledger.LedgerError, SQLAlchemyError) as error:
                result.failed[load_id] = f"{type(error).__name__}: {error}"
        after = load_id  # the batch's last
        if end_batch is not None:
            end_batch()
    return result


def pending_loads_for_card(session: Session, card_id: int, *, now: datetime | None = None) -> list[LoadRequest]:
    """Loads requested for this card and not yet on its chip ("funds waiting to be loaded"), oldest first.

    With `now`, loads whose hold has lapsed are left out even before `expire_loads` voids them: they
    can no longer be written (pages pass `now`; writing is for the expiry command, never a GET).
    """
    stmt = select(LoadRequest).where(_waiting([card_id], now))
    return list(session.scalars(stmt.order_by(LoadRequest.requested_at)))


def shown_status(load: LoadRequest, now: datetime) -> str:
    """The status a page shows: a pending load whose hold has lapsed is expired, voided or not yet."""
    if load.status == "pending" and load.expires_at <= now:
        return "expired"
    return load.status


def shown_status_is(status: str, now: datetime):
    """The condition "`shown_status` at `now` is `status`" (a lapsed pending load shows as expired)."""
    lapsed = (LoadRequest.status == "pending") & (LoadRequest.expires_at <= now)
    if status == "pending":
        return (LoadRequest.status == "pending") & (LoadRequest.expires_at > now)
    if status == "expired":
        return (LoadRequest.status == "expired") | lapsed
    return LoadRequest.status == status


def _waiting(card_ids: list[int], now: datetime | None):
    """The condition "pending loads of these cards" (lapsed holds left out when `now` is given)."""
    condition = LoadRequest.card_id.in_(card_ids) & (LoadRequest.status == "pending")
    return condition & (LoadRequest.expires_at > now) if now is not None else condition


def pending_load_totals(session: Session, card_ids: list[int], *, now: datetime | None = None) -> dict[int, int]:
    """{card id: fen of its loads not yet on the chip}, in one query; cards without any are left out.
    With `now`, lapsed holds are left out, as `pending_loads_for_card` does for pages."""
    if not card_ids:
        return {}
    rows = session.execute(
        select(LoadRequest.card_id, func.sum(LoadRequest.amount))
        .where(_waiting(card_ids, now))
        .group_by(LoadRequest.card_id)
    )
    return {card_id: int(total) for card_id, total in rows}


def pending_loads_by_card(session: Session, card_ids: list[int], *, now: datetime) -> dict[int, list[LoadRequest]]:
    """{card id: its waiting loads, oldest first} for every given card, in one query (pages)."""
    found: dict[int, list[LoadRequest]] = {card_id: [] for card_id in card_ids}
    if card_ids:
        for load in session.scalars(
            select(LoadRequest).where(_waiting(card_ids, now)).order_by(LoadRequest.requested_at)
        ):
            found[load.card_id].append(load)
    return found


def loads_page(
    session: Session,
    customer_id: int,
    *,
    card_ids: list[int] | None = None,
    key: Key | None = None,
    limit: int = 20,
    state: str | None = None,
    now: datetime | None = None,
) -> Page:
    """One page of the customer's loads (of `card_ids` only, if given; in `state` only, as
    `shown_status` says at `now`, if given), newest first, after `key` (the last row of the previous page)."""
    stmt = select(LoadRequest).where(LoadRequest.customer_id == customer_id)
    if card_ids is not None:
        stmt = stmt.where(LoadRequest.card_id.in_(card_ids))
    if state is not None:
        stmt = stmt.where(shown_status_is(state, now))
    condition = after(LoadRequest.requested_at, LoadRequest.id, key, "desc")
    if condition is not None:
        stmt = stmt.where(condition)
    stmt = stmt.order_by(*ordering(LoadRequest.requested_at, LoadRequest.id, "desc")).limit(limit + 1)
    rows, next_key = page_of(list(session.scalars(stmt)), limit, lambda load: Key(load.requested_at, load.id))
    return Page(rows, next_key)


def _mark(load: LoadRequest, status: str, now: datetime, actor_id: int | None) -> None:
    load.status = status
    load.resolved_at = now
    load.resolved_by = actor_id


#: The webhook event of each load status a change leads to (portal.webhooks.events).
_LOAD_EVENTS = {"pending": "load.waiting", "loaded": "load.written", "expired": "load.expired"}


def _announce(session: Session, load: LoadRequest, now: datetime) -> None:
    """Tell the customer's webhook endpoints the load's new status (waiting, written or expired). Flushes."""
    session.flush()
    webhooks.emit(session, load.customer_id, _LOAD_EVENTS[load.status], lambda: payloads.load(session, load), now=now,
                  subject=f"load:{load.id}")  # fmt: skip
