"""A small world for the station-side tests: two regions, stations 1,000 km apart, a customer with
a funded sub-card on a vehicle, and a terminal with its API key. Built through the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from portal import ledger
from portal.cards.models import Card, CardControls
from portal.customers.models import Customer
from portal.drivers.models import Driver, Vehicle
from portal.reference.models import Product, Region, Station, StationPrice
from portal.stations.models import Terminal
from portal.stations.terminals import create_terminal

CARD_NUMBER = "9030110000000017"
PRICE_92 = 750  # fen per litre
PRICE_0 = 720


@dataclass
class World:
    region: Region
    far_region: Region
    station: Station
    far_station: Station
    customer: Customer
    card: Card
    vehicle: Vehicle
    terminal: Terminal
    key: str
    far_terminal: Terminal
    far_key: str


def build(session: Session, *, now: datetime, purse_fen: int = 100_000, number: str = CARD_NUMBER) -> World:
    region = Region(code="11", name_zh="北京", name_en="Beijing")
    far = Region(code="31", name_zh="上海", name_en="Shanghai")
    session.add_all([region, far])
    for code, kind, zh, en in (("92", "gasoline", "92#汽油", "92# gasoline"), ("0", "diesel", "0#柴油", "0# diesel")):
        if session.get(Product, code) is None:
            session.add(Product(code=code, kind=kind, name_zh=zh, name_en=en))
    session.flush()
    station = Station(
        code="ST110001",
        name="北京朝阳路加油站",
        region_id=region.id,
        city="北京",
        lat_e6=39_913_818,
        lon_e6=116_363_625,
    )
    far_station = Station(
        code="ST310001", name="上海浦东加油站", region_id=far.id, city="上海", lat_e6=31_230_416, lon_e6=121_473_701
    )
    session.add_all([station, far_station])
    session.flush()
    for s in (station, far_station):
        session.add_all(
            [
                StationPrice(station_id=s.id, product_code="92", price_fen_per_litre=PRICE_92),
                StationPrice(station_id=s.id, product_code="0", price_fen_per_litre=PRICE_0),
            ]
        )
    customer = Customer(name="北京快运有限公司", credit_code="91110000000000001X", region_id=region.id)
    session.add(customer)
    session.flush()
    driver = Driver(customer_id=customer.id, name="张三")
    vehicle = Vehicle(customer_id=customer.id, plate="京A12345", tank_ml=60_000)
    session.add_all([driver, vehicle])
    session.flush()
    card = add_card(session, customer, number=number, driver_id=driver.id, vehicle_id=vehicle.id)
    fund(session, customer, card, purse_fen, now=now, key="w")
    terminal, key = create_terminal(session, station, "pump 1", now=now)
    far_terminal, far_key = create_terminal(session, far_station, "pump 1", now=now)
    session.flush()
    return World(region, far, station, far_station, customer, card, vehicle, terminal, key, far_terminal, far_key)


def add_card(session: Session, customer: Customer, *, number: str, **fields) -> Card:
    card = Card(number=number, customer_id=customer.id, role="sub", expires_on=date(2030, 12, 31), **fields)
    session.add(card)
    session.flush()
    ledger.open_customer_accounts(session, customer.id)
    ledger.open_card_accounts(session, customer.id, card.id)
    return card


def fund(session: Session, customer: Customer, card: Card, fen: int, *, now: datetime, key: str) -> None:
    """deposit -> allocation -> load, so the chip purse holds `fen` more."""
    if fen <= 0:
        return
    unit = ledger.unit_account(session, customer.id)
    reserve = ledger.card_account(session, card.id, "reserve")
    purse = ledger.card_account(session, card.id, "purse")
    clearing = ledger.system_account(session, "deposits_clearing")
    T = ledger.TransferRequest
    ledger.transfer(session, T(f"{key}-dep-{card.id}", clearing.id, unit.id, fen, "deposit"), now=now)
    ledger.transfer(session, T(f"{key}-alloc-{card.id}", unit.id, reserve.id, fen, "allocation"), now=now)
    ledger.transfer(session, T(f"{key}-load-{card.id}", reserve.id, purse.id, fen, "load"), now=now)


def set_controls(session: Session, card: Card, **values) -> None:
    row = session.get(CardControls, card.id)
    if row is None:
        row = CardControls(card_id=card.id)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()


def purse_balance(session: Session, card: Card) -> int:
    return ledger.balance(ledger.card_account(session, card.id, "purse"))


def points_balance(session: Session, card: Card) -> int:
    return ledger.balance(ledger.card_account(session, card.id, "points"))
