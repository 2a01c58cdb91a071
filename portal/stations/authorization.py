"""Purchase authorization at the pump, refunds, and offline purchases uploaded by card sync.

One purchase per card at a time: the card's purse account row is locked (SELECT ... FOR UPDATE on
PostgreSQL; SQLite serializes every writer) before the day totals and the balance are read, so
concurrent purchases on one card can never exceed a daily limit or the purse together. The
terminal's sequence number is the idempotency key: a replay returns the recorded answer and posts
nothing. Declines are recorded too, so admins and drivers see them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, func, insert, or_, select
from sqlalchemy.orm import Session, make_transient_to_detached

from portal import ledger
from portal.alerts.detection import (
    TRAVEL_WINDOW,
    Place,
    PurchaseFacts,
    check_purchase,
    fills_alert_key,
    region_alert_key,
)
from portal.cards import controls as card_controls
from portal.cards.models import Card, CardControls
from portal.clock import business_date, business_day_bounds
from portal.customers.models import Customer
from portal.drivers.models import Vehicle
from portal.ledger.models import Account
from portal.points import rules as points_rules
from portal.points import services as points
from portal.reference.models import Product, Station
from portal.stations import rules
from portal.stations.models import Alert, PointsRule, Purchase, Terminal
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


def _digits(number: str) -> str | None:
    """The card number as stored (digits only), or None when it cannot be one."""
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    return digits if digits and len(digits) <= 19 else None


def find_card(session: Session, number: str) -> Card | None:
    digits = _digits(number)
    return None if digits is None else session.scalar(select(Card).where(Card.number == digits))


def _by_terminal_seq(session: Session, terminal_id: int, seq: int) -> Purchase | None:
    return session.scalar(select(Purchase).where(Purchase.terminal_id == terminal_id, Purchase.terminal_seq == seq))


def _lock_purse(session: Session, card_id: int) -> Account | None:
    """The card's purse account, its row locked until commit (the per-card serialization point)."""
    return session.scalar(
        select(Account)
        .where(Account.card_id == card_id, Account.kind == "purse")
        .with_for_update()
        .execution_options(populate_existing=True)
    )


# The pump's statements are built once, here, with bind parameters: SQLAlchemy then finds their
# compiled form by a cache key it computed once, instead of building and hashing a new statement
# tree per request, and they are plain Core rows, without the ORM's per-row object work. Only the
# purchase itself becomes an ORM object (callers read it), and it is inserted by one Core INSERT.
_cards = Card.__table__
_purses = Account.__table__.alias("purse")
_points_accounts = Account.__table__.alias("points_account")
_controls = CardControls.__table__
_vehicles = Vehicle.__table__
_customers = Customer.__table__
_products = Product.__table__
_stations = Station.__table__
_rules = PointsRule.__table__
_purchases = Purchase.__table__
_CONTROL_FIELDS = tuple(f.name for f in fields(card_controls.Controls))
#: Every column of a purchase row but its id: the Core INSERT sends them all, so the object that
#: joins the session afterwards has every attribute loaded and never reads the row back.
_PURCHASE_COLUMNS = tuple(c.key for c in _purchases.c if c.key != "id")


def _system_account_id(kind: str):
    account = Account.__table__.alias(f"system_{kind}")
    where = and_(account.c.customer_id.is_(None), account.c.kind == kind)
    return select(account.c.id).where(where).scalar_subquery().label(f"{kind}_id")


def _facts_statement(*, lock: bool):
    """One row per points rule that may apply (at least one row) about the card numbered :number:
    the card, its purse (locked when `lock`), controls, points account, vehicle and customer's home
    region, the product :product_code and the station :station_id (NULL when unknown), and the ids
    of the system accounts an approval posts to.

    The rules are narrowed in SQL to those of the product's kind, code and station's region (what
    `points.rules.Rule.applies` asks); the choice among them stays in Python (`rules.choose_rule`).
    """
    has_purse = and_(_purses.c.card_id == _cards.c.id, _purses.c.kind == "purse")
    joined = _cards.join(_purses, has_purse) if lock else _cards.outerjoin(_purses, has_purse)
    joined = (
        joined.outerjoin(_controls, _controls.c.card_id == _cards.c.id)
        .outerjoin(
            _points_accounts, and_(_points_accounts.c.card_id == _cards.c.id, _points_accounts.c.kind == "points")
        )
        .outerjoin(_vehicles, _vehicles.c.id == _cards.c.vehicle_id)
        .outerjoin(_customers, _customers.c.id == _cards.c.customer_id)
        .outerjoin(_products, _products.c.code == bindparam("product_code"))
        .outerjoin(_stations, _stations.c.id == bindparam("station_id"))
        .outerjoin(
            _rules,
            and_(
                _rules.c.active,
                _rules.c.product_kind == _products.c.kind,
                or_(_rules.c.product_code.is_(None), _rules.c.product_code == _products.c.code),
                or_(_rules.c.region_id.is_(None), _rules.c.region_id == _stations.c.region_id),
            ),
        )
    )
    stmt = (
        select(
            _cards.c.id.label("card_id"),
            _cards.c.status.label("card_status"),
            _cards.c.expires_on,
            _cards.c.customer_id,
            _cards.c.driver_id,
            _cards.c.vehicle_id,
            _purses.c.id.label("purse_id"),
            _purses.c.frozen,
            _purses.c.closed,
            _purses.c.debits_posted,
            _purses.c.credits_posted,
            _purses.c.debits_pending,
            _points_accounts.c.id.label("points_account_id"),
            _controls.c.card_id.label("controls_card_id"),
            *(_controls.c[name] for name in _CONTROL_FIELDS),
            _vehicles.c.id.label("vehicle_row_id"),
            _vehicles.c.plate.label("vehicle_plate"),
            _vehicles.c.tank_ml.label("vehicle_tank_ml"),
            _customers.c.region_id.label("home_region_id"),
            _products.c.code.label("product_found"),
            _products.c.kind.label("product_kind"),
            _stations.c.id.label("station_found"),
            _stations.c.active.label("station_active"),
            _stations.c.region_id.label("station_region_id"),
            _stations.c.lat_e6.label("station_lat_e6"),
            _stations.c.lon_e6.label("station_lon_e6"),
            _stations.c.name.label("station_name"),
            _rules.c.id.label("rule_id"),
            _rules.c.product_kind.label("rule_product_kind"),
            _rules.c.product_code.label("rule_product_code"),
            _rules.c.region_id.label("rule_region_id"),
            _rules.c.step_fen.label("rule_step_fen"),
            _rules.c.points_per_step.label("rule_points_per_step"),
            _system_account_id("station_sales"),
            _system_account_id("points_issued"),
        )
        .select_from(joined)
        .where(_cards.c.number == bindparam("number"))
        .order_by(_rules.c.id)  # rules.choose_rule keeps the first of equally specific rules
    )
    return stmt.with_for_update(of=_purses) if lock else stmt


#: The pump's first statement: it waits for the card's lock. Cards without a purse (there is no
#: row to lock) are read by the second, without a lock, as before.
_FACTS = _facts_statement(lock=True)
_FACTS_WITHOUT_PURSE = _facts_statement(lock=False)


def _history_statement():
    """What the card's purchases say, read *after* the card's lock (each statement on PostgreSQL
    sees what committed before it began, and the locking one began before the wait): a purchase
    with this terminal's sequence number, the business day's approved totals (refunds subtract)
    and fills, the card's latest approved fill within the travel window before :at, and which of
    the once-a-day alerts this purchase could raise were raised already (their checks then need
    no statement of their own)."""
    p = _purchases
    alerts = Alert.__table__
    sign = case((p.c.kind == "refund", -1), else_=1)
    day = (
        select(
            func.coalesce(func.sum(case((p.c.kind == "purchase", 1), else_=0)), 0).label("fills"),
            func.coalesce(func.sum(sign * p.c.amount_fen), 0).label("amount_fen"),
            func.coalesce(func.sum(sign), 0).label("count"),
            func.coalesce(func.sum(sign * p.c.litres_ml), 0).label("litres_ml"),
        )
        .where(
            p.c.card_id == bindparam("card_id"),
            p.c.status == "approved",
            p.c.at >= bindparam("day_start"),
            p.c.at < bindparam("day_end"),
        )
        .subquery("day")
    )
    replay = select(p.c.id).where(p.c.terminal_id == bindparam("terminal_id"), p.c.terminal_seq == bindparam("seq"))

    def previous(column):
        return (
            select(column)
            .where(
                p.c.card_id == bindparam("card_id"),
                p.c.status == "approved",
                p.c.kind == "purchase",
                p.c.at <= bindparam("at"),
                p.c.at > bindparam("since"),
            )
            .order_by(p.c.at.desc(), p.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    def raised(key):
        return select(alerts.c.dedupe_key).where(alerts.c.dedupe_key == bindparam(key)).scalar_subquery()

    return select(
        replay.scalar_subquery().label("replay_id"),
        day.c.fills,
        day.c.amount_fen,
        day.c.count,
        day.c.litres_ml,
        previous(p.c.station_id).label("previous_station_id"),
        previous(p.c.at).label("previous_at"),
        raised("fills_alert_key").label("fills_alert_raised"),
        raised("region_alert_key").label("region_alert_raised"),
    ).select_from(day)


_HISTORY = _history_statement()
_INSERT_PURCHASE = insert(_purchases).returning(_purchases.c.id)


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


def _replay(purchase: Purchase, request: PurchaseRequest, card_id: int | None) -> Answer:
    if purchase.kind != "purchase" or not _same_request(purchase, request, card_id):
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


def _controls(facts) -> card_controls.Controls:
    return card_controls.NO_CONTROLS if facts.controls_card_id is None else card_controls.Controls.from_row(facts)


def _points_rules(rows) -> list[points_rules.Rule]:
    return [
        points_rules.Rule(
            r.rule_product_kind, r.rule_step_fen, r.rule_points_per_step, r.rule_product_code, r.rule_region_id
        )
        for r in rows
        if r.rule_id is not None
    ]


def authorize(session: Session, terminal: Terminal, request: PurchaseRequest, *, now: datetime) -> Answer:
    """Approve or decline a purchase at `terminal`; flushes, never commits.

    Every statement counts (a pump waits on each): an approval reads with two, the card's facts
    (taking its lock) and then its purchase history, and writes with three (the purchase, the
    ledger, the day's totals); alerts need more only when one fires. The lock comes first, so the
    history read after it also sees a request with the same sequence number, or a purchase counting
    towards a daily limit, that committed while we waited. Two requests with one sequence number
    for *different* cards can still race to the insert: the loser gets IntegrityError, and its
    caller rolls back and asks again (the API does), which answers with the winner's purchase.
    """
    session.flush()  # the statements below are Core: pending changes must be in the database first
    digits = _digits(request.card_number)
    rows = []
    if digits is not None:
        params = {"number": digits, "product_code": request.product_code, "station_id": terminal.station_id}
        rows = session.execute(_FACTS, params).all() or session.execute(_FACTS_WITHOUT_PURSE, params).all()
    facts = rows[0] if rows else None
    card_id = None if facts is None else facts.card_id
    day_start, day_end = business_day_bounds(business_date(request.at))
    history = session.execute(
        _HISTORY,
        {
            "terminal_id": terminal.id,
            "seq": request.terminal_seq,
            "card_id": card_id,
            "day_start": day_start,
            "day_end": day_end,
            "at": request.at,
            "since": request.at - TRAVEL_WINDOW,
            "fills_alert_key": fills_alert_key(card_id, request.at),
            "region_alert_key": region_alert_key(card_id, request.at, facts.station_region_id if facts else None),
        },
    ).one()
    if history.replay_id is not None:
        return _replay(session.get(Purchase, history.replay_id), request, card_id)
    check_request(request, now=now)
    if facts is None:
        raise AuthorizationError("unknown_card", "No card has this number.", 404)
    if facts.product_found is None:
        raise AuthorizationError("unknown_product", "No product has this code.", 404)
    if facts.station_found is None or not facts.station_active:
        raise AuthorizationError("unknown_station", "The terminal's station is not active.", 404)

    controls = _controls(facts)
    has_purse = facts.purse_id is not None
    attempt = card_controls.Purchase(
        amount_fen=request.amount_fen,
        litres_ml=request.litres_ml,
        product_code=facts.product_found,
        station_id=facts.station_found,
        region_id=facts.station_region_id,
        at=request.at,
        plate=request.plate,
    )
    state = rules.CardState(
        status=facts.card_status,
        expires_on=facts.expires_on,
        blocked=has_purse and (facts.frozen or facts.closed),
        purse_available_fen=ledger.available(facts) if has_purse else 0,
    )
    # Day totals only matter to daily limits: most cards have none.
    totals = NO_DAY_TOTALS
    if _needs_day_totals(controls):
        totals = card_controls.DayTotals(int(history.amount_fen), int(history.count), int(history.litres_ml))
    reason = rules.decline_reason(state, controls, attempt, totals)
    purchase = _new_purchase(facts, request, terminal_id=terminal.id, now=now)
    if reason is None:
        purchase.transfer_id = f"pos:{terminal.id}:{request.terminal_seq}"
        purchase.balance_after_fen = state.purse_available_fen - request.amount_fen
        if facts.points_account_id is not None:
            purchase.points = points.earned_points(
                session, purchase, facts.product_kind, rules_in_force=_points_rules(rows)
            )
    else:
        purchase.status = "declined"
        purchase.decline_code = reason
    _insert_purchase(session, purchase)  # IntegrityError here: see the docstring
    check_purchase(session, purchase, now=now, facts=_alert_facts(facts, controls, history))
    if reason is None:
        # Last, so the shared system accounts (station_sales, points_issued) stay locked only briefly.
        system_ids = {"station_sales": facts.station_sales_id, "points_issued": facts.points_issued_id}
        post_purchase(
            session,
            purchase,
            facts.purse_id,
            now=now,
            points_account_id=facts.points_account_id,
            system_ids=system_ids,
        )
    # After the ledger, as everywhere purchases are recorded: one lock order, so no deadlocks.
    rollup.record_purchase(session, purchase)
    return Answer(purchase)


NO_DAY_TOTALS = card_controls.DayTotals()


def _alert_facts(facts, controls: card_controls.Controls, history) -> PurchaseFacts:
    """What the anomaly checks need, from the two statements authorization already ran: the
    history was read before this purchase was inserted, so its fill counts one more."""
    has_vehicle = facts.vehicle_row_id is not None
    return PurchaseFacts(
        controls=controls,
        home_region_id=facts.home_region_id,
        vehicle_plate=facts.vehicle_plate if has_vehicle else None,
        vehicle_tank_ml=facts.vehicle_tank_ml if has_vehicle else None,
        fills_today=int(history.fills) + 1,
        previous_station_id=history.previous_station_id,
        previous_at=history.previous_at,
        station=Place(facts.station_lat_e6, facts.station_lon_e6, facts.station_name),
        raised=frozenset(key for key in (history.fills_alert_raised, history.region_alert_raised) if key),
    )


def post_purchase(
    session: Session,
    purchase: Purchase,
    purse_id: int,
    *,
    now: datetime,
    points_account_id: int | None = None,
    system_ids: dict[str, int | None] | None = None,
) -> None:
    """The approved purchase's money (purse -> station_sales) and its points (points_issued -> the
    card's points), on the ledger in one batch: one lock, one write. `system_ids`: the system
    accounts' ids when the caller has read them already (missing ones are looked up, or created)."""
    earns = purchase.points > 0
    kinds = ("station_sales", "points_issued") if earns else ("station_sales",)
    if system_ids is None or any(system_ids.get(kind) is None for kind in kinds):
        system_ids = ledger.system_account_ids(session, kinds)
    requests = [
        ledger.TransferRequest(
            id=purchase.transfer_id,
            debit_account_id=purse_id,
            credit_account_id=system_ids["station_sales"],
            amount=purchase.amount_fen,
            code="purchase",
            memo=f"{purchase.source} purchase {purchase.product_code} at station {purchase.station_id}",
        )
    ]
    if earns:
        if points_account_id is None:
            points_account_id = points.points_account(session, purchase.card_id).id
        requests.append(points.earn_request(purchase, system_ids["points_issued"], points_account_id))
    ledger.transfer_batch(session, requests, now=now)


def _new_purchase(facts, request: PurchaseRequest, *, terminal_id: int | None, now: datetime) -> Purchase:
    """The purchase row as approved, every column set (see `_insert_purchase`)."""
    plate = card_controls.normalize_plate(request.plate)
    if not plate and facts.vehicle_id is not None:
        plate = facts.vehicle_plate if facts.vehicle_row_id is not None else ""
    return Purchase(
        kind="purchase",
        status="approved",
        decline_code=None,
        source="online",
        customer_id=facts.customer_id,
        card_id=facts.card_id,
        driver_id=facts.driver_id,
        vehicle_id=facts.vehicle_id,
        plate=plate[:16],
        station_id=facts.station_found,
        region_id=facts.station_region_id,
        terminal_id=terminal_id,
        terminal_seq=request.terminal_seq,
        chip_counter=None,
        product_code=request.product_code,
        litres_ml=request.litres_ml,
        unit_price_fen=request.unit_price_fen,
        amount_fen=request.amount_fen,
        odometer_km=request.odometer_km,
        points=0,
        balance_after_fen=None,
        transfer_id=None,
        refund_of_id=None,
        at=request.at,
        received_at=now,
    )


def _insert_purchase(session: Session, purchase: Purchase) -> None:
    """Insert a new purchase with one Core INSERT ... RETURNING id, then attach it to the session
    as if it had been loaded (every attribute set, nothing pending): the ORM's unit of work costs
    several times the statement's own time for a single row."""
    values = {name: getattr(purchase, name) for name in _PURCHASE_COLUMNS}
    purchase.id = session.execute(_INSERT_PURCHASE, values).scalar_one()
    make_transient_to_detached(purchase)
    session.add(purchase)
