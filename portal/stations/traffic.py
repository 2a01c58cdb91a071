"""Demo traffic: realistic purchases driven through the same `authorize` the terminal API calls.

Deterministic from the seed: each (card, day) draws from its own random stream and its terminal
sequence numbers derive from the seed, so a second run replays the same requests and changes
nothing. Mostly ordinary fills in the customer's region during the day; a few on purpose unusual
(tank overfills, night fills, two far-apart stations within the hour, a lost-card style burst of
declines) so the alerts and the declines tab have something to show.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import ledger
from portal.cards.models import Card
from portal.clock import BUSINESS_TZ, business_date
from portal.customers.models import Customer
from portal.drivers.models import Vehicle
from portal.purchases.authorization import AuthorizationError, PurchaseRequest, authorize
from portal.purchases.pump import by_terminal_seq
from portal.reference.models import Product, Station, StationPrice
from portal.stations.models import Terminal
from portal.stations.terminals import create_terminal

TERMINAL_NAME = "demo-traffic"


@dataclass
class TrafficResult:
    purchases: int = 0
    approved: int = 0
    declined: int = 0
    replayed: int = 0
    declines_by_code: dict[str, int] = field(default_factory=dict)


def _terminal(session: Session, station: Station, now: datetime) -> Terminal:
    terminal = session.scalar(select(Terminal).where(Terminal.station_id == station.id, Terminal.name == TERMINAL_NAME))
    if terminal is None:
        terminal, _key = create_terminal(session, station, TERMINAL_NAME, now=now)  # key unused: in-process
    return terminal


def _seq(seed: int, *parts) -> int:
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:7], "big")  # < 2**56, stable across runs


def _top_up(session: Session, card: Card, amount: int, *, key: str, at: datetime) -> None:
    """Like a driver loading at the pump before paying: unit -> reserve -> purse, with a deposit
    into the unit account when it runs dry (the ledger's own transfers; ids derived from the request)."""
    purse = ledger.card_account(session, card.id, "purse")
    short = amount - ledger.available(purse)
    if short <= 0:
        return
    want = -(-short * 3 // 2 // 10_000) * 10_000  # half again, in whole 100 yuan
    reserve = ledger.card_account(session, card.id, "reserve")
    unit = ledger.unit_account(session, card.customer_id)
    T = ledger.TransferRequest
    missing = want - ledger.available(reserve) - ledger.available(unit)
    if missing > 0:  # the company pays in, in whole 10,000 yuan
        clearing = ledger.system_account(session, "deposits_clearing")
        deposit = -(-missing // 1_000_000) * 1_000_000
        ledger.transfer(session, T(f"{key}:dep", clearing.id, unit.id, deposit, "deposit"), now=at)
    allocate = min(want - ledger.available(reserve), ledger.available(unit))
    if allocate > 0:
        ledger.transfer(session, T(f"{key}:alloc", unit.id, reserve.id, allocate, "allocation"), now=at)
    load = min(want, ledger.available(reserve))
    if load > 0:
        ledger.transfer(session, T(f"{key}:load", reserve.id, purse.id, load, "load"), now=at)


def run_traffic(
    session: Session,
    *,
    days: int,
    cards: int | None,
    seed: int,
    end: datetime,
    top_up: bool = True,
    commit=None,
) -> TrafficResult:
    """Purchases over the `days` days before `end` for up to `cards` active sub-cards.

    `top_up`: load the chip from the unit account when it is short (else such fills decline).
    `commit` (optional) is called after each day so long runs keep transactions short.
    """
    result = TrafficResult()
    stmt = select(Card).where(Card.role == "sub", Card.status == "active").order_by(Card.id)
    chosen = list(session.scalars(stmt.limit(cards) if cards else stmt))
    stations = list(session.scalars(select(Station).where(Station.active).order_by(Station.id)))
    if not chosen or not stations:
        return result
    market = _Market(
        stations=stations,
        prices={(p.station_id, p.product_code): p.price_fen_per_litre for p in session.scalars(select(StationPrice))},
        kinds={p.code: p.kind for p in session.scalars(select(Product))},
        regions={c.id: c.region_id for c in session.scalars(select(Customer))},
    )
    terminals: dict[int, Terminal] = {}
    start_day = business_date(end) - timedelta(days=days)
    for offset in range(days):
        day = start_day + timedelta(days=offset)
        for card in chosen:
            vehicle = session.get(Vehicle, card.vehicle_id) if card.vehicle_id else None
            for station, request in _requests_of_day(market, card, vehicle, day, seed=seed, end=end):
                if station.id not in terminals:
                    terminals[station.id] = _terminal(session, station, request.at)
                _send(session, terminals[station.id], card, vehicle, request, top_up=top_up, result=result)
        if commit is not None:
            commit()
    return result


@dataclass(frozen=True)
class _Market:
    """The active stations, their prices and the products' kinds; each customer's home region."""

    stations: list[Station]
    prices: dict[tuple[int, str], int]
    kinds: dict[str, str]
    regions: dict[int, int]


def _requests_of_day(market: _Market, card: Card, vehicle: Vehicle | None, day, *, seed: int, end: datetime):
    """(station, request) of one card's fills on `day` up to `end`, in time order."""
    rng = random.Random(f"{seed}:{card.id}:{day.isoformat()}")
    home = [s for s in market.stations if s.region_id == market.regions.get(card.customer_id)] or market.stations
    fills = _fills_of_day(rng, day, home, market.stations, vehicle, market.prices, market.kinds)
    for n, (station, at, litres_ml, product) in enumerate(fills):
        if at > end:
            continue
        price = market.prices[(station.id, product)]
        yield (
            station,
            PurchaseRequest(
                card_number=card.number,
                product_code=product,
                litres_ml=litres_ml,
                unit_price_fen=price,
                amount_fen=(litres_ml * price + 500) // 1000,  # to the fen, half up
                terminal_seq=_seq(seed, card.id, day.isoformat(), n),
                at=at,
                plate=vehicle.plate if vehicle else "",
            ),
        )


def _send(
    session: Session,
    terminal: Terminal,
    card: Card,
    vehicle: Vehicle | None,
    request: PurchaseRequest,
    *,
    top_up: bool,
    result: TrafficResult,
) -> None:
    """Authorize one request as the terminal API would (topping the chip up first if asked), and count it."""
    known = by_terminal_seq(session, terminal.id, request.terminal_seq) is not None
    # Bursts of tries (litres beyond any tank) are left to decline on their own.
    if top_up and not known and request.litres_ml <= (vehicle.tank_ml if vehicle else 60_000) * 2 - 1:
        _top_up(session, card, request.amount_fen, key=f"demo:{terminal.id}:{request.terminal_seq}", at=request.at)
    try:
        answer = authorize(session, terminal, request, now=request.at)
    except AuthorizationError:
        return
    result.purchases += 1
    if answer.replayed:
        result.replayed += 1
    elif answer.approved:
        result.approved += 1
    else:
        result.declined += 1
        result.declines_by_code[answer.code] = result.declines_by_code.get(answer.code, 0) + 1


def _fills_of_day(rng, day, home, stations, vehicle, prices, kinds):
    """(station, at, litres_ml, product) for one card's day, in time order."""
    tank = vehicle.tank_ml if vehicle else 60_000
    products = sorted({code for (_sid, code) in prices})
    diesel = [p for p in products if kinds.get(p) == "diesel"]
    gasoline = [p for p in products if kinds.get(p) == "gasoline"]
    usual = (diesel if tank >= 150_000 else gasoline) or products
    count = rng.choices((0, 1, 2), weights=(35, 50, 15))[0]
    roll = rng.random()
    fills = []
    for _ in range(count):
        hour = rng.randint(7, 20)
        at = datetime(day.year, day.month, day.day, hour, rng.randint(0, 59), tzinfo=BUSINESS_TZ)
        station = rng.choice(home)
        fills.append([station, at, rng.randint(tank * 3 // 10, tank * 9 // 10) // 10 * 10, rng.choice(usual)])
    if fills and roll < 0.03:  # a fill larger than the tank
        fills[0][2] = tank + rng.randint(5_000, 30_000)
    elif fills and roll < 0.05:  # at night
        fills[0][1] = fills[0][1].replace(hour=rng.randint(0, 4))
    elif fills and roll < 0.07 and len(stations) > len(home):  # far away within the hour
        first = fills[0]
        far = rng.choice([s for s in stations if s not in home])
        fills.append([far, first[1] + timedelta(minutes=rng.randint(20, 50)), rng.randint(10_000, 30_000), first[3]])
    elif 0.07 <= roll < 0.085:  # a burst of tries: several declines once the purse or limits say no
        at = datetime(day.year, day.month, day.day, 12, 0, tzinfo=BUSINESS_TZ)
        station = rng.choice(home)
        fills.extend([station, at + timedelta(minutes=3 * i), tank * 2, usual[0]] for i in range(3))
    fills = [f for f in fills if (f[0].id, f[3]) in prices]
    fills.sort(key=lambda f: f[1])
    return [(s, at.astimezone(UTC), ml, p) for s, at, ml, p in fills]
