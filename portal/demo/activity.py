"""Months of money history for the demo customers, through the ledger.

Per customer and month: a deposit into the unit account on the first working day, allocations to
the sub-cards that afternoon; then, card by card, fills every few days at stations of the customer's
region, each loading the chip from the card's reserve first when the purse runs low, and earning
points. Times are business hours in Asia/Shanghai; amounts are litres x the station's price, rounded
to the fen. Nothing is ever overdrawn: every movement is sized from the balances first.

Transfer ids derive from the seed, the customer and a counter, so the history is the same on every
run with the same seed. It is only generated for a customer the same run created (see world.py);
a customer that already existed keeps its history.

Deposits, allocations and loads go through the same services as the portal's pages
(`portal.funds.services.record_deposit`, `prepare_batch` + `confirm_batch`, `portal.chips.loads`
`request_load` + `post_load`), so the deposit, batch and load pages show them. Purchases go straight
to the ledger and are recorded as `Purchase` rows (approved, online) for the query pages; when the
stations area offers a service that books a purchase with its points, `_purchase` should call it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.orm import Session

from portal import ledger
from portal.chips.loads import post_load, request_load
from portal.clock import BUSINESS_TZ
from portal.demo.world import DemoCustomer, DemoOptions, DemoWorld, history_start
from portal.funds.plan import RawLine
from portal.funds.services import confirm_batch, prepare_batch, record_deposit
from portal.money import fen_for_litres, format_fen_plain
from portal.reference.models import Station
from portal.reference.services import stations_in_region
from portal.stations.models import Purchase

#: Days between fills, by fleet type (a truck on the road fills every two or three days).
_FILL_EVERY_DAYS = {"truck": (2, 4), "van": (3, 6), "car": (2, 4)}
#: Cold regions switch trucks to -10# diesel in winter, where the station sells it.
_WINTER_MONTHS = (12, 1, 2)
#: Loads are whole hundreds of yuan, enough for about this many fills.
_FILLS_PER_LOAD = 6
#: Default points rules (see portal.stations.models.PointsRule): fen per point by product kind.
_FEN_PER_POINT = {"gasoline": 100, "diesel": 200}
_LOAD_HOLD = timedelta(hours=24)


@dataclass
class ActivityCounts:
    deposits: int = 0
    allocations: int = 0
    loads: int = 0
    purchases: int = 0
    points_earned: int = 0
    amount_purchased_fen: int = 0

    def __str__(self) -> str:
        return (
            f"{self.deposits} deposits, {self.allocations} allocations, {self.loads} loads, "
            f"{self.purchases} purchases, {self.points_earned} points earned"
        )


def _at(day, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BUSINESS_TZ).astimezone(UTC)


@dataclass
class _Card:
    """A sub-card's accounts and our running copy of their available balances."""

    card_id: int
    #: Position among the customer's sub-cards (stable across databases, unlike the id).
    position: int
    number: str
    reserve_id: int
    purse_id: int
    points_id: int
    reserve: int = 0
    purse: int = 0
    monthly_fen: int = 0
    loads: int = 0


@dataclass
class _Run:
    session: Session
    options: DemoOptions
    demo: DemoCustomer
    rng: random.Random
    counts: ActivityCounts
    unit_id: int
    unit: int
    system: dict[str, int]
    stations: list[Station]
    cards: dict[int, _Card] = field(default_factory=dict)
    last_at: datetime | None = None
    serial: int = 0

    def key(self, kind: str, *parts: object) -> str:
        """A deterministic idempotency key, short enough for the funds tables' 32 characters."""
        return "".join(str(p) for p in (f"demo{self.options.seed}c{self.demo.index}{kind}", *parts))


def generate_activity(session: Session, world: DemoWorld, options: DemoOptions, *, now: datetime) -> ActivityCounts:
    """The history of every customer this run created. Flushes; the caller commits."""
    counts = ActivityCounts()
    system = {kind: ledger.system_account(session, kind).id for kind in ("station_sales", "points_issued")}
    for demo in world.customers:
        if demo.created:
            staff = world.staff[demo.customer.region_id]
            _customer_history(session, demo, options, now=now, counts=counts, system=system, staff_id=staff.id)
    session.flush()
    return counts


def _customer_history(
    session: Session,
    demo: DemoCustomer,
    options: DemoOptions,
    *,
    now: datetime,
    counts: ActivityCounts,
    system: dict[str, int],
    staff_id: int,
) -> None:
    unit = ledger.unit_account(session, demo.customer.id)
    run = _Run(
        session=session,
        options=options,
        demo=demo,
        rng=random.Random(f"{options.seed}:activity:{demo.index}"),
        counts=counts,
        unit_id=unit.id,
        unit=ledger.available(unit),
        system=system,
        stations=stations_in_region(session, demo.customer.region_id),
    )
    for position, card in enumerate(demo.sub_cards):
        accounts = {kind: ledger.card_account(session, card.id, kind) for kind in ("reserve", "purse", "points")}
        tank_litres = demo.vehicles[card.vehicle_id].tank_ml // 1000
        low, high = _FILL_EVERY_DAYS[demo.fleet]
        # About 0.7 of a tank per fill at ~7.5 yuan a litre, 30 / (average days between fills) fills.
        monthly = int(tank_litres * 0.7 * 750 * 30 * 2 / (low + high))
        run.cards[card.id] = _Card(
            card.id,
            position,
            card.number,
            accounts["reserve"].id,
            accounts["purse"].id,
            accounts["points"].id,
            reserve=ledger.available(accounts["reserve"]),
            purse=ledger.available(accounts["purse"]),
            monthly_fen=monthly,
        )

    for when, kind, card_id in sorted(_timeline(run, history_start(now, options.months), now)):
        if kind == "deposit":
            _deposit(run, when, staff_id)
        elif kind == "allocate":
            _allocate(run, when)
        else:
            _fill(run, when, demo.sub_cards[card_id])


def _timeline(run: _Run, start: datetime, now: datetime) -> list[tuple[datetime, str, int]]:
    """Every deposit, allocation and fill of the period, as (time, kind, sub-card position)."""
    events = []
    day = start.astimezone(BUSINESS_TZ).date()
    end = now.astimezone(BUSINESS_TZ).date()
    month_seen = None
    while day <= end:
        if day.month != month_seen and day.weekday() < 5:
            month_seen = day.month
            events.append((_at(day, 9, run.rng.randint(30, 59)), "deposit", -1))
            events.append((_at(day, 14, run.rng.randint(0, 59)), "allocate", -1))
        day += timedelta(days=1)
    low, high = _FILL_EVERY_DAYS[run.demo.fleet]
    for position in range(len(run.demo.sub_cards)):
        day = start.astimezone(BUSINESS_TZ).date() + timedelta(days=run.rng.randint(2, 4))
        while day <= end:
            events.append((_at(day, run.rng.randint(6, 20), run.rng.randint(0, 59)), "fill", position))
            day += timedelta(days=run.rng.randint(low, high))
    return [event for event in events if event[0] < now]


def _deposit(run: _Run, when: datetime, staff_id: int) -> None:
    """Support staff record the month's bank transfer into the unit account."""
    need = sum(card.monthly_fen for card in run.cards.values())
    # Customers pay round sums by bank transfer: ten-thousands of yuan, a little above their need.
    amount = -(-int(need * run.rng.uniform(1.0, 1.25)) // 1_000_000) * 1_000_000
    month = when.astimezone(BUSINESS_TZ).strftime("%Y%m")
    record_deposit(
        run.session,
        key=run.key("d", month),
        customer=run.demo.customer,
        amount=amount,
        bank_reference=f"{month}{run.demo.index:02d}{run.rng.randint(10**7, 10**8 - 1)}",
        memo="",
        actor_id=staff_id,
        now=when,
    )
    run.unit += amount
    run.counts.deposits += 1


def _allocate(run: _Run, when: datetime) -> None:
    """The fleet admin shares the unit account out to the sub-cards, as one batch."""
    wanted = {card_id: -(-card.monthly_fen // 10_000) * 10_000 for card_id, card in run.cards.items()}
    total = sum(wanted.values())
    if total > run.unit:  # never more than the unit account holds: scale down, whole hundreds
        wanted = {card_id: amount * run.unit // total // 10_000 * 10_000 for card_id, amount in wanted.items()}
    lines = [(card_id, amount) for card_id, amount in wanted.items() if amount > 0]
    if not lines:
        return
    month = when.astimezone(BUSINESS_TZ).strftime("%Y%m")
    batch = prepare_batch(
        run.session,
        customer_id=run.demo.customer.id,
        kind="allocation",
        lines=[
            RawLine(line_no, run.cards[card_id].number, format_fen_plain(amount))
            for line_no, (card_id, amount) in enumerate(lines, start=1)
        ],
        actor_id=run.demo.admin.id,
        now=when,
        key=run.key("a", month),
    )
    confirm_batch(run.session, batch, actor_id=run.demo.admin.id, now=when)
    for card_id, amount in lines:
        run.unit -= amount
        run.cards[card_id].reserve += amount
    run.counts.allocations += len(lines)


def _fill(run: _Run, when: datetime, card) -> None:
    state = run.cards[card.id]
    vehicle = run.demo.vehicles[card.vehicle_id]
    product = _product(run, when)
    stations = [s for s in run.stations if any(p.product_code == product for p in s.prices)]
    if not stations:
        product = "0" if run.demo.fleet == "truck" else "92"
        stations = [s for s in run.stations if any(p.product_code == product for p in s.prices)]
    station = run.rng.choice(stations)
    price = next(p.price_fen_per_litre for p in station.prices if p.product_code == product)
    # 45% to 90% of the tank, in centilitres as a pump measures.
    ml = vehicle.tank_ml * run.rng.randint(45, 90) // 100 // 10 * 10
    amount = fen_for_litres(ml, price)

    if state.purse < amount:
        load = min(state.reserve, max(amount - state.purse, amount * _FILLS_PER_LOAD) // 10_000 * 10_000 + 10_000)
        if load > 0:
            _load(run, when - timedelta(minutes=run.rng.randint(15, 50)), state, load)
    if state.purse < amount:
        # Not enough on the chip even after loading: fill what the purse pays for (as a driver would).
        ml = state.purse * 1000 // price // 10 * 10
        amount = fen_for_litres(ml, price)
        while amount > state.purse:
            ml -= 10
            amount = fen_for_litres(ml, price)
        if ml < 10_000:
            return
    _purchase(run, when, card, vehicle, station, product, ml, price, amount)


def _product(run: _Run, when: datetime) -> str:
    if run.demo.fleet != "truck":
        return "95" if run.rng.random() < 0.2 else "92"
    winter = when.astimezone(BUSINESS_TZ).month in _WINTER_MONTHS
    return "-10" if winter and run.rng.random() < 0.7 else "0"


def _load(run: _Run, when: datetime, state: _Card, amount: int) -> None:
    """Load the chip: the reserve is held, the chip written, and the load posted a minute later."""
    state.loads += 1
    card = run.demo.sub_cards[state.position]
    load = request_load(
        run.session,
        load_id=run.key("k", state.position, state.loads),
        card=card,
        amount=amount,
        actor_id=run.demo.admin.id,
        now=when,
    )
    post_load(run.session, load, now=when + timedelta(minutes=1), chip_counter=state.loads, actor_id=run.demo.admin.id)
    state.reserve -= amount
    state.purse += amount
    run.counts.loads += 1


def _purchase(run: _Run, when, card, vehicle, station: Station, product: str, ml: int, price: int, amount: int) -> None:
    state = run.cards[card.id]
    run.serial += 1
    transfer_id = run.key("p", run.serial)
    kind = "diesel" if product in ("0", "-10", "-20") else "gasoline"
    points = amount // _FEN_PER_POINT[kind]
    requests = [
        ledger.TransferRequest(
            transfer_id,
            state.purse_id,
            run.system["station_sales"],
            amount,
            "purchase",
            memo=f"{station.code} {product} {ml}ml @{price}",
        )
    ]
    if points > 0:
        requests.append(
            ledger.TransferRequest(
                run.key("q", run.serial), run.system["points_issued"], state.points_id, points, "points_earn"
            )
        )
    # The purchase and its points stand or fall together, so one batch (also half the round trips).
    ledger.transfer_batch(run.session, requests, now=when)
    state.purse -= amount
    run.session.add(
        Purchase(
            status="approved",
            source="online",
            customer_id=run.demo.customer.id,
            card_id=card.id,
            driver_id=card.driver_id,
            vehicle_id=vehicle.id,
            plate=vehicle.plate,
            station_id=station.id,
            region_id=station.region_id,
            product_code=product,
            litres_ml=ml,
            unit_price_fen=price,
            amount_fen=amount,
            points=points,
            balance_after_fen=state.purse,
            transfer_id=transfer_id,
            at=when,
            received_at=when,
        )
    )
    run.counts.purchases += 1
    run.counts.points_earned += points
    run.counts.amount_purchased_fen += amount
