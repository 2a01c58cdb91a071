"""Months of money history for the demo customers, through the same services as real users and
terminals.

Day by day over the history, per customer:
- on the first working day of a month, support staff record the bank transfer into the unit
  account (`portal.funds.services.record_deposit`) and the fleet admin shares it out to the
  sub-cards that afternoon (`prepare_batch` + `confirm_batch`);
- the day's purchases come from `portal.stations.traffic.run_traffic`, the demo traffic that goes
  through `authorize` exactly as a terminal's request does: approvals and declines (with their
  reasons), points earned and anomaly alerts all come from that one path;
- in the evening, after the day's driving, cards whose chip runs low are loaded from their reserve
  (`portal.chips.loads.request_load` + `post_load`), so the next day's fills find money on the chip.

Times are business hours in Asia/Shanghai; nothing is ever overdrawn (the ledger refuses, the
terminal path declines). Deterministic: transfer ids, load ids and terminal sequence numbers derive
from the seed and the customer, and the traffic draws from the seed. It is only generated for
customers the same run created (see world.py); demo traffic covers every active sub-card, so a
database that also holds other customers' cards is refused rather than given purchases it did not
ask for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import ledger
from portal.cards.models import Card
from portal.chips.loads import post_load, request_load
from portal.clock import BUSINESS_TZ, business_date
from portal.demo.world import DemoConflict, DemoCustomer, DemoOptions, DemoWorld, history_start
from portal.funds.plan import RawLine
from portal.funds.services import confirm_batch, prepare_batch, record_deposit
from portal.ledger.models import Account
from portal.money import format_fen_plain
from portal.purchases.models import Purchase
from portal.stations.traffic import run_traffic

#: Demo traffic's average: 0.8 fills a day of 30% to 90% of the tank (see stations/traffic.py).
_TANKS_PER_DAY = 0.48
#: A generous price per litre for sizing money (fen); real prices are a little lower.
_SIZING_PRICE = 800
#: A chip holding less than this many full tanks is loaded in the evening, up to _LOAD_TO tanks.
_LOW_WATER, _LOAD_TO = 2, 6


@dataclass
class ActivityCounts:
    deposits: int = 0
    allocations: int = 0
    loads: int = 0
    purchases: int = 0
    declined: int = 0
    points_earned: int = 0
    amount_purchased_fen: int = 0
    declines_by_code: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return (
            f"{self.deposits} deposits, {self.allocations} allocations, {self.loads} loads, "
            f"{self.purchases} purchases ({self.declined} declined), {self.points_earned} points earned"
        )


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BUSINESS_TZ).astimezone(UTC)


@dataclass
class _Card:
    card: Card
    position: int
    purse_id: int
    reserve_id: int
    #: One full tank at the sizing price, in fen.
    tank_fen: int
    loads: int = 0

    @property
    def monthly_fen(self) -> int:
        return int(self.tank_fen * _TANKS_PER_DAY * 30)


@dataclass
class _Customer:
    session: Session
    options: DemoOptions
    demo: DemoCustomer
    staff_id: int
    rng: random.Random
    counts: ActivityCounts
    cards: list[_Card]

    def key(self, kind: str, *parts: object) -> str:
        """A deterministic idempotency key, short enough for the funds tables' 32 characters."""
        return "".join(str(p) for p in (f"demo{self.options.seed}c{self.demo.index}{kind}", *parts))


def generate_activity(session: Session, world: DemoWorld, options: DemoOptions, *, now: datetime) -> ActivityCounts:
    """The history of every customer this run created. Flushes; the caller commits."""
    counts = ActivityCounts()
    created = [demo for demo in world.customers if demo.created]
    if not created:
        return counts
    _refuse_foreign_cards(session, [demo.customer.id for demo in created])
    customers = [_customer(session, demo, options, world.staff[demo.customer.region_id].id, counts) for demo in created]

    day = history_start(now, options.months).astimezone(BUSINESS_TZ).date()
    today = business_date(now)
    month_funded: set[tuple[int, int]] = set()
    chips_loaded = False
    while day <= today:
        if day.weekday() < 5 and (day.year, day.month) not in month_funded:
            month_funded.add((day.year, day.month))
            for customer in customers:
                _deposit(customer, day, now)
                _allocate(customer, day, now)
        if day == today:
            break  # demo traffic covers whole days: the history's purchases end with yesterday
        if chips_loaded:
            _traffic(session, options, day, counts)
        for customer in customers:
            chips_loaded |= _evening_loads(customer, day)
        day += timedelta(days=1)

    _count_purchases(session, [demo.customer.id for demo in created], counts)
    session.flush()
    return counts


def _refuse_foreign_cards(session: Session, customer_ids: list[int]) -> None:
    others = session.scalar(
        select(func.count())
        .select_from(Card)
        .where(Card.role == "sub", Card.status == "active", Card.customer_id.not_in(customer_ids))
    )
    if others:
        raise DemoConflict(
            "demo purchases go through demo traffic, which covers every active card, and this database already "
            "holds other customers' cards: build the demo world in an empty database"
        )


def _customer(session: Session, demo: DemoCustomer, options: DemoOptions, staff_id: int, counts) -> _Customer:
    cards = []
    for position, card in enumerate(demo.sub_cards):
        tank_ml = demo.vehicles[card.vehicle_id].tank_ml
        cards.append(
            _Card(
                card,
                position,
                purse_id=ledger.card_account(session, card.id, "purse").id,
                reserve_id=ledger.card_account(session, card.id, "reserve").id,
                tank_fen=tank_ml * _SIZING_PRICE // 1000,
            )
        )
    rng = random.Random(f"{options.seed}:activity:{demo.index}")
    return _Customer(session, options, demo, staff_id, rng, counts, cards)


def _available(session: Session, account_ids: list[int]) -> dict[int, int]:
    """Available balances read from the database (the traffic moved money since we last looked)."""
    rows = session.execute(
        select(Account.id, Account.credits_posted - Account.debits_posted - Account.debits_pending).where(
            Account.id.in_(account_ids)
        )
    )
    return {account_id: int(amount) for account_id, amount in rows}


def _deposit(run: _Customer, day: date, now: datetime) -> None:
    """Support staff record the month's bank transfer into the unit account."""
    need = sum(card.monthly_fen for card in run.cards)
    # Customers pay round sums by bank transfer: ten-thousands of yuan, a little above their need.
    amount = -(-int(need * run.rng.uniform(1.0, 1.25)) // 1_000_000) * 1_000_000
    month = day.strftime("%Y%m")
    reference = f"{month}{run.demo.index:02d}{run.rng.randint(10**7, 10**8 - 1)}"
    when = _at(day, 9, run.rng.randint(30, 59))
    if when >= now:
        return
    record_deposit(
        run.session,
        key=run.key("d", month),
        customer=run.demo.customer,
        amount=amount,
        bank_reference=reference,
        memo="",
        actor_id=run.staff_id,
        now=when,
    )
    run.counts.deposits += 1


def _allocate(run: _Customer, day: date, now: datetime) -> None:
    """The fleet admin shares the unit account out to the sub-cards, as one batch."""
    when = _at(day, 14, run.rng.randint(0, 59))
    if when >= now:
        return
    unit = ledger.available(ledger.unit_account(run.session, run.demo.customer.id))
    wanted = {card.card.id: -(-card.monthly_fen // 10_000) * 10_000 for card in run.cards}
    total = sum(wanted.values())
    if total > unit:  # never more than the unit account holds: scale down, whole hundreds
        wanted = {card_id: amount * unit // total // 10_000 * 10_000 for card_id, amount in wanted.items()}
    lines = [(card.card.number, wanted[card.card.id]) for card in run.cards if wanted[card.card.id] > 0]
    if not lines:
        return
    batch = prepare_batch(
        run.session,
        customer_id=run.demo.customer.id,
        kind="allocation",
        lines=[RawLine(n, number, format_fen_plain(amount)) for n, (number, amount) in enumerate(lines, start=1)],
        actor_id=run.demo.admin.id,
        now=when,
        key=run.key("a", day.strftime("%Y%m")),
    )
    confirm_batch(run.session, batch, actor_id=run.demo.admin.id, now=when)
    run.counts.allocations += len(lines)


def _traffic(session: Session, options: DemoOptions, day: date, counts: ActivityCounts) -> None:
    """The day's fills at the pumps, through purchase authorization."""
    end = _at(day + timedelta(days=1), 0, 0)  # run_traffic covers the whole days before `end`
    result = run_traffic(session, days=1, cards=None, seed=options.seed, end=end, top_up=False)
    counts.declined += result.declined
    for code, n in result.declines_by_code.items():
        counts.declines_by_code[code] = counts.declines_by_code.get(code, 0) + n


def _evening_loads(run: _Customer, day: date) -> bool:
    """Load the chips that run low from their reserves, in whole hundreds of yuan; True if any."""
    balances = _available(run.session, [a for card in run.cards for a in (card.purse_id, card.reserve_id)])
    loaded = False
    for card in run.cards:
        purse, reserve = balances[card.purse_id], balances[card.reserve_id]
        if purse >= card.tank_fen * _LOW_WATER:
            continue
        amount = min(-(-(card.tank_fen * _LOAD_TO - purse) // 10_000) * 10_000, reserve // 10_000 * 10_000)
        if amount <= 0:
            continue
        card.loads += 1
        # After the day's driving (the traffic's last fills are before 22:00) and before the next.
        when = _at(day, 22, run.rng.randint(0, 50))
        load = request_load(
            run.session,
            load_id=run.key("k", card.position, "-", card.loads),
            card=card.card,
            amount=amount,
            actor_id=run.demo.admin.id,
            now=when,
        )
        post_load(run.session, load, now=when + timedelta(minutes=1), chip_counter=card.loads, actor_id=None)
        run.counts.loads += 1
        loaded = True
    return loaded


def _count_purchases(session: Session, customer_ids: list[int], counts: ActivityCounts) -> None:
    count, points, amount = session.execute(
        select(
            func.count(), func.coalesce(func.sum(Purchase.points), 0), func.coalesce(func.sum(Purchase.amount_fen), 0)
        ).where(Purchase.customer_id.in_(customer_ids), Purchase.status == "approved", Purchase.kind == "purchase")
    ).one()
    counts.purchases, counts.points_earned, counts.amount_purchased_fen = count, int(points), int(amount)
