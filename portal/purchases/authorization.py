"""Purchase authorization at the pump (online purchases): read the card's facts, decide, book.

One purchase per card at a time: the card's purse account row is locked (SELECT ... FOR UPDATE on
PostgreSQL; SQLite serializes every writer) before the day totals and the balance are read, so
concurrent purchases on one card can never exceed a daily limit or the purse together. The
terminal's sequence number is the idempotency key, claimed first (portal.idempotency) so that copies
sent at once are answered one after the other: a replay returns the recorded answer and posts
nothing. Declines are recorded too, so admins and drivers see them. The terminal API
(portal.stations.api) calls `authorize`; the statements it runs are `portal.purchases.pump`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from portal import idempotency, ledger
from portal.alerts.detection import check_purchase
from portal.alerts.facts import TRAVEL_WINDOW, Place, PurchaseFacts, fills_alert_key, region_alert_key
from portal.cards import controls as card_controls
from portal.clock import business_date, business_day_bounds
from portal.points import rules as points_rules
from portal.points import services as points
from portal.purchases import pump, rollup, rules
from portal.purchases.booking import insert_purchase, post_purchase
from portal.purchases.models import Purchase
from portal.webhooks import events as webhooks
from portal.webhooks import payloads

#: A terminal's clock may differ from ours by this much; beyond it the request is refused.
MAX_CLOCK_SKEW = timedelta(minutes=15)
#: Largest single purchase a terminal may send (100,000 yuan; a tanker truck fill is far less).
MAX_AMOUNT_FEN = 10_000_000
MAX_LITRES_ML = 2_000_000
MAX_UNIT_PRICE_FEN = 100_000
#: Terminal sequence numbers of purchases stay below this (refunds share the numbers).
MAX_TERMINAL_SEQ = 2**62
#: The claim scope of a terminal's sequence numbers (purchases and refunds share them).
TERMINAL_SEQ = "terminal-seq"


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


class Terminal(Protocol):
    """The station terminal a request comes from, as a purchase needs it (a
    `portal.stations.models.Terminal`)."""

    id: int
    station_id: int


# --- checks on the request itself -----------------------------------------------------------------


def check_request(request: PurchaseRequest, *, now: datetime) -> None:
    """Shape rules; a failure is the terminal's bug, not the card's decline."""
    for name, value, low, high in (
        ("amount_fen", request.amount_fen, 1, MAX_AMOUNT_FEN),
        ("unit_price_fen", request.unit_price_fen, 1, MAX_UNIT_PRICE_FEN),
        ("litres_ml", request.litres_ml, 1, MAX_LITRES_ML),
        ("terminal_seq", request.terminal_seq, 0, MAX_TERMINAL_SEQ),
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


# --- authorization: read, decide, book -----------------------------------------------------------


def authorize(session: Session, terminal: Terminal, request: PurchaseRequest, *, now: datetime) -> Answer:
    """Approve or decline a purchase at `terminal`; flushes, never commits.

    Every statement counts (a pump waits on each): an approval reads with two, the card's facts
    (claiming the sequence number first, on PostgreSQL, then taking the card's lock) and then its
    purchase history, and writes with three (the purchase, the ledger, the day's totals); alerts
    need more only when one fires. The claim and the card's lock come first, so the history read
    after them sees a request with the same sequence number (whichever card it named), or a purchase
    counting towards a daily limit, that committed while we waited.
    """
    session.flush()  # the statements below are Core: pending changes must be in the database first
    rows, history = _read_facts(session, terminal, request)
    facts = rows[0] if rows else None
    if history.replay_id is not None:
        card_id = None if facts is None else facts.card_id
        return _replay(session.get(Purchase, history.replay_id), request, card_id)
    check_request(request, now=now)
    _check_known(facts)
    controls = _controls(facts)
    state = _card_state(facts)
    reason = _decide(facts, controls, state, request, history)
    purchase = _new_purchase(facts, request, terminal_id=terminal.id, now=now)
    if reason is None:
        _book_approved(session, purchase, rows, state, _alert_facts(facts, controls, history), now=now)
    else:
        _book_declined(session, purchase, reason, now=now)
    webhooks.emit(session, purchase.customer_id, f"purchase.{purchase.status}", lambda: payloads.purchase(session, purchase),
                  now=now, listening=bool(facts.webhooks_listening))  # fmt: skip
    return Answer(purchase)


def _read_facts(session: Session, terminal: Terminal, request: PurchaseRequest) -> tuple[list, object]:
    """Claim the sequence number (portal.idempotency), then read the card's facts (one row per
    points rule that may apply; none: no such card), taking the card's lock, then its purchase
    history: the pump's two statements (the claim rides in the first, on PostgreSQL)."""
    digits = pump.card_digits(request.card_number)
    rows = []
    params = {"number": digits, "product_code": request.product_code, "station_id": terminal.station_id}
    lock_id = idempotency.claim_in_statement(session, TERMINAL_SEQ, terminal.id, request.terminal_seq)
    if digits is not None and lock_id is not None:
        rows = session.execute(pump.FACTS_CLAIMING, {**params, "lock_id": lock_id}).all()
    if not rows:  # SQLite, or no card with a purse (the claim may not have been taken)
        idempotency.claim(session, TERMINAL_SEQ, terminal.id, request.terminal_seq)
        if digits is not None and lock_id is None:
            rows = session.execute(pump.FACTS, params).all()
        if digits is not None and not rows:
            rows = session.execute(pump.FACTS_WITHOUT_PURSE, params).all()
    facts = rows[0] if rows else None
    card_id = None if facts is None else facts.card_id
    day_start, day_end = business_day_bounds(business_date(request.at))
    history = session.execute(
        pump.HISTORY,
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
    return rows, history


def _check_known(facts) -> None:
    """The card, product and station the request names exist (and the station is active)."""
    if facts is None:
        raise AuthorizationError("unknown_card", "No card has this number.", 404)
    if facts.product_found is None:
        raise AuthorizationError("unknown_product", "No product has this code.", 404)
    if facts.station_found is None or not facts.station_active:
        raise AuthorizationError("unknown_station", "The terminal's station is not active.", 404)


def _needs_day_totals(controls: card_controls.Controls) -> bool:
    return any(
        limit is not None
        for limit in (controls.daily_amount_limit_fen, controls.daily_count_limit, controls.daily_litres_limit_ml)
    )


def _controls(facts) -> card_controls.Controls:
    return card_controls.NO_CONTROLS if facts.controls_card_id is None else card_controls.Controls.from_row(facts)


def _card_state(facts) -> rules.CardState:
    has_purse = facts.purse_id is not None
    return rules.CardState(
        status=facts.card_status,
        expires_on=facts.expires_on,
        blocked=has_purse and (facts.frozen or facts.closed),
        purse_available_fen=ledger.available(facts) if has_purse else 0,
    )


NO_DAY_TOTALS = card_controls.DayTotals()


def _decide(facts, controls, state: rules.CardState, request: PurchaseRequest, history) -> str | None:
    """The decline reason (`rules.decline_reason`), or None to approve."""
    attempt = card_controls.Purchase(
        amount_fen=request.amount_fen,
        litres_ml=request.litres_ml,
        product_code=facts.product_found,
        station_id=facts.station_found,
        region_id=facts.station_region_id,
        at=request.at,
        plate=request.plate,
    )
    # Day totals only matter to daily limits: most cards have none.
    totals = NO_DAY_TOTALS
    if _needs_day_totals(controls):
        totals = card_controls.DayTotals(int(history.amount_fen), int(history.count), int(history.litres_ml))
    return rules.decline_reason(state, controls, attempt, totals)


def _points_rules(rows) -> list[points_rules.Rule]:
    return [
        points_rules.Rule(
            r.rule_product_kind, r.rule_step_fen, r.rule_points_per_step, r.rule_product_code, r.rule_region_id
        )
        for r in rows
        if r.rule_id is not None
    ]


def _book_approved(
    session: Session, purchase: Purchase, rows, state: rules.CardState, alert_facts: PurchaseFacts, *, now: datetime
) -> None:
    """Record the approved purchase, its alerts, its money and points, and the day's totals."""
    facts = rows[0]
    purchase.transfer_id = f"pos:{purchase.terminal_id}:{purchase.terminal_seq}"
    purchase.balance_after_fen = state.purse_available_fen - purchase.amount_fen
    if facts.points_account_id is not None:
        purchase.points = points.earned_points(
            session, purchase, facts.product_kind, rules_in_force=_points_rules(rows)
        )
    insert_purchase(session, purchase)
    check_purchase(session, purchase, now=now, facts=alert_facts)
    # Last, so the shared system accounts (station_sales, points_issued) stay locked only briefly.
    system_ids = {"station_sales": facts.station_sales_id, "points_issued": facts.points_issued_id}
    post_purchase(
        session, purchase, facts.purse_id, now=now, points_account_id=facts.points_account_id, system_ids=system_ids
    )
    # After the ledger, as everywhere purchases are recorded: one lock order, so no deadlocks.
    rollup.record_purchase(session, purchase)


def _book_declined(session: Session, purchase: Purchase, reason: str, *, now: datetime) -> None:
    """Record the declined purchase (no money), its alert, and the day's totals."""
    purchase.status = "declined"
    purchase.decline_code = reason
    insert_purchase(session, purchase)
    check_purchase(session, purchase, now=now, facts=None)
    rollup.record_purchase(session, purchase)


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


def _new_purchase(facts, request: PurchaseRequest, *, terminal_id: int | None, now: datetime) -> Purchase:
    """The purchase row as approved, every column set (see `booking.insert_purchase`)."""
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
