"""Purchase authorization at the pump, refunds, and offline purchases uploaded by card sync.

One purchase per card at a time: the card's purse account row is locked (SELECT ... FOR UPDATE on
PostgreSQL; SQLite serializes every writer) before the day totals and the balance are read, so
concurrent purchases on one card can never exceed a daily limit or the purse together. The
terminal's sequence number is the idempotency key: a replay returns the recorded answer and posts
nothing. Declines are recorded too, so admins and drivers see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from portal import ledger
from portal.alerts.detection import check_purchase
from portal.cards import controls as card_controls
from portal.cards.models import Card, CardControls
from portal.clock import business_date, business_day_bounds
from portal.drivers.models import Vehicle
from portal.ledger.models import Account
from portal.points import services as points
from portal.reference.models import Product, Station
from portal.stations import rules
from portal.stations.models import Purchase, Terminal
from portal.statistics import rollup

#: A terminal's clock may differ from ours by this much; beyond it the request is refused.
MAX_CLOCK_SKEW = timedelta(minutes=15)
#: Largest single purchase a terminal may send (100,000 yuan; a tanker truck fill is far less).
MAX_AMOUNT_FEN = 10_000_000
MAX_LITRES_ML = 2_000_000


class AuthorizationError(Exception):
    """A request that cannot be answered approve/decline: nothing is recorded.

    `status` is the HTTP status the API answers with; `code` is stable.
    """

    def __init__(self, code: str, message: str, status: int = 422):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class PurchaseRequest:
    card_number: str
    product_code: str
    litres_ml: int
    unit_price_fen: int
    amount_fen: int
    terminal_seq: int
    at: datetime
    plate: str = ""
    odometer_km: int | None = None


@dataclass(frozen=True)
class Answer:
    purchase: Purchase
    #: True when this is a replay of an already answered sequence number.
    replayed: bool = False

    @property
    def approved(self) -> bool:
        return self.purchase.status == "approved"

    @property
    def code(self) -> str:
        return self.purchase.decline_code or "approved"


# --- lookups --------------------------------------------------------------------------------------


def find_card(session: Session, number: str) -> Card | None:
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    if not digits or len(digits) > 19:
        return None
    return session.scalar(select(Card).where(Card.number == digits))


def _by_terminal_seq(session: Session, terminal_id: int, seq: int) -> Purchase | None:
    return session.scalar(select(Purchase).where(Purchase.terminal_id == terminal_id, Purchase.terminal_seq == seq))


@dataclass(frozen=True)
class _CardFacts:
    """The card, its purse (locked) and what the pump's rules need, read in one statement."""

    card: Card | None
    purse: Account | None
    controls: card_controls.Controls
    points_account_id: int | None


_points = aliased(Account)


def _card_facts(session: Session, number: str) -> _CardFacts:
    """Find the card and lock its purse row (the per-card serialization point) in one statement,
    with its controls and points account. Cards without a purse fall back to separate lookups."""
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    if digits and len(digits) <= 19:
        row = session.execute(
            select(Card, Account, CardControls, _points.id)
            .join(Account, and_(Account.card_id == Card.id, Account.kind == "purse"))
            .outerjoin(CardControls, CardControls.card_id == Card.id)
            .outerjoin(_points, and_(_points.card_id == Card.id, _points.kind == "points"))
            .where(Card.number == digits)
            .with_for_update(of=Account)
            .execution_options(populate_existing=True)
        ).first()
        if row is not None:
            card, purse, controls, points_account_id = row
            controls = card_controls.NO_CONTROLS if controls is None else card_controls.Controls.from_row(controls)
            return _CardFacts(card, purse, controls, points_account_id)
    card = find_card(session, number)
    if card is None:
        return _CardFacts(None, None, card_controls.NO_CONTROLS, None)
    account = points.points_account(session, card.id)
    return _CardFacts(card, _lock_purse(session, card.id), controls_for(session, card.id), account and account.id)


def _lock_purse(session: Session, card_id: int) -> Account | None:
    """The card's purse account, its row locked until commit (the per-card serialization point)."""
    return session.scalar(
        select(Account)
        .where(Account.card_id == card_id, Account.kind == "purse")
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def day_totals(session: Session, card_id: int, at: datetime) -> card_controls.DayTotals:
    """Approved purchases less refunds on the business day (Asia/Shanghai) of `at`."""
    start, end = business_day_bounds(business_date(at))
    sign = case((Purchase.kind == "refund", -1), else_=1)
    amount, count, litres = session.execute(
        select(
            func.coalesce(func.sum(sign * Purchase.amount_fen), 0),
            func.coalesce(func.sum(sign), 0),
            func.coalesce(func.sum(sign * Purchase.litres_ml), 0),
        ).where(
            Purchase.card_id == card_id,
            Purchase.status == "approved",
            Purchase.at >= start,
            Purchase.at < end,
        )
    ).one()
    return card_controls.DayTotals(amount_fen=int(amount), count=int(count), litres_ml=int(litres))


def controls_for(session: Session, card_id: int) -> card_controls.Controls:
    row = session.get(CardControls, card_id)
    return card_controls.NO_CONTROLS if row is None else card_controls.Controls.from_row(row)


# --- checks on the request itself -----------------------------------------------------------------


def check_request(request: PurchaseRequest, *, now: datetime) -> None:
    """Shape rules; a failure is the terminal's bug, not the card's decline."""
    for name, value, low, high in (
        ("amount_fen", request.amount_fen, 1, MAX_AMOUNT_FEN),
        ("unit_price_fen", request.unit_price_fen, 1, 100_000),
        ("litres_ml", request.litres_ml, 1, MAX_LITRES_ML),
        ("terminal_seq", request.terminal_seq, 0, 2**62),
    ):
        if not low <= value <= high:
            raise AuthorizationError("out_of_range", f"{name} must be between {low} and {high}.", 400)
    if not rules.amount_matches(request.litres_ml, request.unit_price_fen, request.amount_fen):
        raise AuthorizationError(
            "amount_mismatch", "amount_fen differs from litres x unit price by more than one fen.", 422
        )
    if abs(request.at - now) > MAX_CLOCK_SKEW:
        raise AuthorizationError("clock_skew", "The terminal's time is more than 15 minutes off.", 422)


def _same_request(purchase: Purchase, request: PurchaseRequest, card_id: int | None) -> bool:
    return (
        purchase.card_id == card_id
        and purchase.amount_fen == request.amount_fen
        and purchase.litres_ml == request.litres_ml
        and purchase.product_code == request.product_code
    )


def _replay(purchase: Purchase, request: PurchaseRequest, card: Card | None) -> Answer:
    if purchase.kind != "purchase" or not _same_request(purchase, request, card.id if card else None):
        raise AuthorizationError(
            "sequence_reused", "This terminal sequence number was already used for a different request.", 409
        )
    return Answer(purchase, replayed=True)


# --- authorization --------------------------------------------------------------------------------


def _needs_day_totals(controls: card_controls.Controls) -> bool:
    return any(
        limit is not None
        for limit in (controls.daily_amount_limit_fen, controls.daily_count_limit, controls.daily_litres_limit_ml)
    )


def authorize(session: Session, terminal: Terminal, request: PurchaseRequest, *, now: datetime) -> Answer:
    """Approve or decline a purchase at `terminal`; flushes, never commits.

    Every query counts (a pump waits on each): the card's lock comes first, so the replay lookup
    after it also sees a request with the same sequence number that committed while we waited.
    Two requests with one sequence number for *different* cards can still race to the insert: the
    loser gets IntegrityError, and its caller rolls back and asks again (the API does), which
    answers with the winner's purchase.
    """
    facts = _card_facts(session, request.card_number)
    card, purse = facts.card, facts.purse
    existing = _by_terminal_seq(session, terminal.id, request.terminal_seq)
    if existing is not None:
        return _replay(existing, request, card)
    check_request(request, now=now)
    if card is None:
        raise AuthorizationError("unknown_card", "No card has this number.", 404)
    product = session.get(Product, request.product_code)
    if product is None:
        raise AuthorizationError("unknown_product", "No product has this code.", 404)
    station = session.get(Station, terminal.station_id)
    if station is None or not station.active:
        raise AuthorizationError("unknown_station", "The terminal's station is not active.", 404)

    attempt = card_controls.Purchase(
        amount_fen=request.amount_fen,
        litres_ml=request.litres_ml,
        product_code=product.code,
        station_id=station.id,
        region_id=station.region_id,
        at=request.at,
        plate=request.plate,
    )
    state = rules.CardState(
        status=card.status,
        expires_on=card.expires_on,
        blocked=purse is not None and (purse.frozen or purse.closed),
        purse_available_fen=0 if purse is None else ledger.available(purse),
    )
    # Day totals only matter to daily limits: most cards have none, and the query is skipped.
    totals = day_totals(session, card.id, request.at) if _needs_day_totals(facts.controls) else NO_DAY_TOTALS
    reason = rules.decline_reason(state, facts.controls, attempt, totals)
    purchase = _new_purchase(session, card, station, request, terminal_id=terminal.id, now=now)
    if reason is None:
        purchase.transfer_id = f"pos:{terminal.id}:{request.terminal_seq}"
        purchase.balance_after_fen = state.purse_available_fen - request.amount_fen
        if facts.points_account_id is not None:
            purchase.points = points.earned_points(session, purchase, product.kind)
    else:
        purchase.status = "declined"
        purchase.decline_code = reason
    session.add(purchase)
    session.flush()  # IntegrityError here: see the docstring
    check_purchase(session, purchase, now=now)
    if reason is None:
        # Last, so the shared system accounts (station_sales, points_issued) stay locked only briefly.
        post_purchase(session, purchase, purse, now=now, points_account_id=facts.points_account_id)
    # After the ledger, as everywhere purchases are recorded: one lock order, so no deadlocks.
    rollup.record_purchase(session, purchase)
    return Answer(purchase)


NO_DAY_TOTALS = card_controls.DayTotals()


def post_purchase(
    session: Session, purchase: Purchase, purse: Account, *, now: datetime, points_account_id: int | None = None
) -> None:
    """The approved purchase's money (purse -> station_sales) and its points (points_issued -> the
    card's points), on the ledger in one batch: one lock, one write."""
    earns = purchase.points > 0
    system = ledger.system_account_ids(session, ("station_sales", "points_issued") if earns else ("station_sales",))
    requests = [
        ledger.TransferRequest(
            id=purchase.transfer_id,
            debit_account_id=purse.id,
            credit_account_id=system["station_sales"],
            amount=purchase.amount_fen,
            code="purchase",
            memo=f"{purchase.source} purchase {purchase.product_code} at station {purchase.station_id}",
        )
    ]
    if earns:
        if points_account_id is None:
            points_account_id = points.points_account(session, purchase.card_id).id
        requests.append(points.earn_request(purchase, system["points_issued"], points_account_id))
    ledger.transfer_batch(session, requests, now=now)


def _new_purchase(
    session: Session, card: Card, station: Station, request: PurchaseRequest, *, terminal_id: int | None, now: datetime
) -> Purchase:
    plate = card_controls.normalize_plate(request.plate)
    if not plate and card.vehicle_id is not None:
        vehicle = session.get(Vehicle, card.vehicle_id)
        plate = vehicle.plate if vehicle is not None else ""
    return Purchase(
        kind="purchase",
        status="approved",
        source="online",
        customer_id=card.customer_id,
        card_id=card.id,
        driver_id=card.driver_id,
        vehicle_id=card.vehicle_id,
        plate=plate[:16],
        station_id=station.id,
        region_id=station.region_id,
        terminal_id=terminal_id,
        terminal_seq=request.terminal_seq,
        product_code=request.product_code,
        litres_ml=request.litres_ml,
        unit_price_fen=request.unit_price_fen,
        amount_fen=request.amount_fen,
        odometer_km=request.odometer_km,
        points=0,
        at=request.at,
        received_at=now,
    )
