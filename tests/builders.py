"""The test-data builders: one `create_*` factory per kind of row, and the few named scenarios that
tests share, each composed of those factories.

Every function takes a SQLAlchemy session, flushes and never commits (the caller commits as the web
layer would). Integration tests reach the factories through the `create_*` fixtures of
tests/conftest.py; web tests and the browser harness call them inside the app's session.

Rows of areas a test is not about are inserted directly (`Customer(...)`, `Card(...)`), so a test
does not depend on another area's services; money always moves through the real ledger API, so
balances and journal agree by construction.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import ledger
from portal.auth import services as auth
from portal.cards.models import Card, CardControls
from portal.cards.numbers import card_number
from portal.customers.models import Customer
from portal.drivers.models import Driver, Vehicle
from portal.purchases.models import Purchase
from portal.reference.models import Product, Region, Station, StationPrice
from portal.stations.models import Terminal
from portal.stations.terminals import create_terminal

#: Every user the builders create signs in with this password.
PASSWORD = "Correct-Horse-9"
#: Cards expire far after every test's clock.
EXPIRES = date(2030, 12, 31)

REGIONS = {"11": ("北京", "Beijing"), "31": ("上海", "Shanghai")}
PRODUCTS = {
    "92": ("gasoline", "92#汽油", "92# gasoline"),
    "95": ("gasoline", "95#汽油", "95# gasoline"),
    "0": ("diesel", "0#柴油", "0# diesel"),
}

_card_sequence = itertools.count(1)
_transfer_ids = itertools.count(1)


# --- one factory per kind of row -------------------------------------------------------------------


def create_region(session: Session, code: str = "11", name_zh: str = "", name_en: str = "") -> Region:
    """The region with this code, created (names from REGIONS unless given) if it does not exist."""
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        zh, en = REGIONS.get(code, (code, code))
        region = Region(code=code, name_zh=name_zh or zh, name_en=name_en or en)
        session.add(region)
        session.flush()
    return region


def create_product(session: Session, code: str = "92", name_zh: str = "", name_en: str = "") -> Product:
    """The product with this code, created (names from PRODUCTS unless given) if it does not exist."""
    product = session.get(Product, code)
    if product is None:
        kind, zh, en = PRODUCTS[code]
        product = Product(code=code, kind=kind, name_zh=name_zh or zh, name_en=name_en or en)
        session.add(product)
        session.flush()
    return product


def create_station(session: Session, code: str, region: Region, *, name: str, prices=None, **fields) -> Station:
    """A station; `prices` maps product codes to fen per litre."""
    station = Station(code=code, name=name, region_id=region.id, city=region.name_zh, **fields)
    session.add(station)
    session.flush()
    for product_code, fen in (prices or {}).items():
        session.add(StationPrice(station_id=station.id, product_code=product_code, price_fen_per_litre=fen))
    return station


def create_customer(
    session: Session, region: Region, *, name: str, credit_code: str, accounts: bool = True, **fields
) -> Customer:
    """A customer; with `accounts` its unit account (and the ledger's system accounts) too."""
    customer = Customer(name=name, credit_code=credit_code, region_id=region.id, **fields)
    session.add(customer)
    session.flush()
    if accounts:
        ledger.open_customer_accounts(session, customer.id)
    return customer


def create_driver(session: Session, customer: Customer, name: str, **fields) -> Driver:
    driver = Driver(customer_id=customer.id, name=name, **fields)
    session.add(driver)
    session.flush()
    return driver


def create_vehicle(session: Session, customer: Customer, plate: str, **fields) -> Vehicle:
    vehicle = Vehicle(customer_id=customer.id, plate=plate, **fields)
    session.add(vehicle)
    session.flush()
    return vehicle


def create_card(
    session: Session,
    customer: Customer,
    number: str | None = None,
    *,
    role: str = "sub",
    accounts: bool = True,
    expires_on: date = EXPIRES,
    **fields,
) -> Card:
    """A card (numbered in the customer's region unless `number` is given); a sub-card with
    `accounts` gets its reserve, purse and points accounts."""
    if number is None:
        number = card_number(session.get(Region, customer.region_id).code, next(_card_sequence))
    card = Card(number=number, customer_id=customer.id, role=role, expires_on=expires_on, **fields)
    session.add(card)
    session.flush()
    if accounts and role == "sub":
        ledger.open_card_accounts(session, customer.id, card.id)
    return card


def create_user(session: Session, username: str, role: str, now: datetime, password: str = PASSWORD, **fields):
    """A user through the auth service (fast bcrypt unless `rounds` is given)."""
    fields.setdefault("rounds", 4)
    return auth.create_user(session, username=username, password=password, role=role, now=now, **fields)


def fund_card(session: Session, card: Card, *, reserve: int = 0, purse: int = 0, now: datetime, key: str = "t"):
    """Deposit, allocate and load (posted at once, one batch) so the card holds `reserve` and `purse` more."""
    if reserve + purse <= 0:
        return
    clearing = ledger.system_account(session, "deposits_clearing")
    unit = ledger.unit_account(session, card.customer_id)
    reserve_acc = ledger.card_account(session, card.id, "reserve")
    purse_acc = ledger.card_account(session, card.id, "purse")
    T = ledger.TransferRequest
    requests = [
        T(f"{key}:dep:{card.id}", clearing.id, unit.id, reserve + purse, "deposit"),
        T(f"{key}:alloc:{card.id}", unit.id, reserve_acc.id, reserve + purse, "allocation"),
    ]
    if purse:
        requests.append(T(f"{key}:load:{card.id}", reserve_acc.id, purse_acc.id, purse, "load"))
    ledger.transfer_batch(session, requests, now=now)


def move(session: Session, code, debit, credit, amount, at, *, customer_id=None, memo="") -> ledger.Transfer:
    """One posted ledger transfer between two accounts, under a fresh id."""
    request = ledger.TransferRequest(f"t{next(_transfer_ids)}-{code}", debit.id, credit.id, amount, code, memo=memo)
    return ledger.transfer(session, request, now=at, customer_id=customer_id)


def set_controls(session: Session, card: Card, **values) -> None:
    """Write the card's controls row directly (the cards area's services are tested on their own)."""
    row = session.get(CardControls, card.id)
    if row is None:
        row = CardControls(card_id=card.id, customer_id=card.customer_id)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    session.flush()


def record_purchase(
    session: Session,
    card: Card,
    station: Station,
    at: datetime,
    *,
    amount,
    litres_ml,
    product="92",
    points=None,
    kind="purchase",
    status="approved",
    decline_code=None,
    odometer_km=None,
    refund_of=None,
) -> Purchase:
    """One purchase (or refund) fact and, when approved, its ledger transfer and points, the way
    the stations area records them."""
    approved = status == "approved"
    transfer_id = _purchase_transfer(session, card, station, kind, amount, at) if approved else None
    points = amount // 100 if points is None and approved else (points or 0)
    if points and approved:
        _purchase_points(session, card, station, kind, points, at)
    vehicle = session.get(Vehicle, card.vehicle_id) if card.vehicle_id else None
    purchase = Purchase(
        kind=kind, status=status, decline_code=decline_code, customer_id=card.customer_id, card_id=card.id,
        driver_id=card.driver_id, vehicle_id=card.vehicle_id, plate=vehicle.plate if vehicle else "",
        station_id=station.id, region_id=station.region_id, product_code=product, litres_ml=litres_ml,
        unit_price_fen=max(1, amount * 1000 // max(litres_ml, 1)), amount_fen=amount,
        points=points if approved else 0, odometer_km=odometer_km, transfer_id=transfer_id,
        refund_of_id=refund_of.id if refund_of else None, at=at, received_at=at,
    )  # fmt: skip
    session.add(purchase)
    session.flush()
    return purchase


def _purchase_transfer(session: Session, card: Card, station: Station, kind: str, amount: int, at: datetime) -> str:
    purse = ledger.card_account(session, card.id, "purse")
    sales = ledger.station_account(session, "station_sales", station.id)
    if kind == "purchase":
        return move(session, "purchase", purse, sales, amount, at).id
    return move(session, "refund", sales, purse, amount, at).id


def _purchase_points(session: Session, card: Card, station: Station, kind: str, points: int, at: datetime) -> None:
    card_points = ledger.card_account(session, card.id, "points")
    if kind == "purchase":
        issued = ledger.station_account(session, "points_issued", station.id)
        move(session, "points_earn", issued, card_points, points, at)
    else:
        move(session, "points_redeem", card_points, ledger.system_account(session, "points_redeemed"), points, at)


def _id(row_or_id) -> int:
    return row_or_id if isinstance(row_or_id, int) else row_or_id.id


def unit_balance(session: Session, customer) -> int:
    return ledger.balance(ledger.unit_account(session, _id(customer)))


def reserve_balance(session: Session, card) -> int:
    return ledger.balance(ledger.card_account(session, _id(card), "reserve"))


def purse_balance(session: Session, card) -> int:
    return ledger.balance(ledger.card_account(session, _id(card), "purse"))


def points_balance(session: Session, card) -> int:
    return ledger.balance(ledger.card_account(session, _id(card), "points"))


# --- auth: two regions, a customer in each with a main card, no money --------------------------------


@dataclass(frozen=True)
class AuthCustomers:
    region_a: int
    region_b: int
    customer_a: int
    customer_b: int

    # The same in every build (class attributes, not fields): what the tests type into the forms.
    main_card_a = "9030110000000017"  # a main card's number signs in its customer's admin
    main_card_b = "9030310000000015"
    sub_card_a = "9030110000000025"
    credit_code_a = "91110105MA01AUTH1X"  # registration must match credit code and contact
    credit_code_b = "91310115MA1KAUTH2Y"
    phone_a = "13900000001"
    email_a = "fleet@example.cn"


def auth_customers(session: Session, now: datetime) -> AuthCustomers:
    """For sign-in, registration and support tests: customer A (Beijing) has a main and a sub-card,
    customer B (Shanghai) a main card."""
    region_a, region_b = create_region(session, "11"), create_region(session, "31")
    c = AuthCustomers
    customer_a = create_customer(
        session, region_a, name="北京测试物流", credit_code=c.credit_code_a, contact_name="王建国", phone=c.phone_a,
        email=c.email_a, created_at=now, accounts=False,
    )  # fmt: skip
    customer_b = create_customer(
        session, region_b, name="上海测试储运", credit_code=c.credit_code_b, phone="13900000002",
        email="b@example.cn", created_at=now, accounts=False,
    )  # fmt: skip
    for customer, number, role in (
        (customer_a, c.main_card_a, "main"),
        (customer_a, c.sub_card_a, "sub"),
        (customer_b, c.main_card_b, "main"),
    ):
        create_card(session, customer, number, role=role, issued_at=now, accounts=False)
    return AuthCustomers(region_a.id, region_b.id, customer_a.id, customer_b.id)


# --- cards, drivers, loss, profile: two fleets in two regions ----------------------------------------


@dataclass
class Fleet:
    customer: Customer
    admin_id: int
    driver: Driver
    driver_user_id: int
    vehicle: Vehicle
    main_card: Card
    cards: list[Card] = field(default_factory=list)
    staff_id: int = 0


@dataclass
class FleetIds:
    """Plain ids of a fleet, safe to use outside the session that built it."""

    customer: int
    admin: str
    driver_user: str
    staff: str
    driver: int
    vehicle: int
    main_card: int
    cards: list[int]

    @classmethod
    def of(cls, n: int, fleet: Fleet) -> FleetIds:
        return cls(fleet.customer.id, f"admin{n}", f"driver{n}", f"staff{n}", fleet.driver.id, fleet.vehicle.id,
                   fleet.main_card.id, [c.id for c in fleet.cards])  # fmt: skip


def two_fleets(session: Session, now: datetime) -> tuple[Fleet, Fleet]:
    """Fleet 1 in Beijing (11), fleet 2 in Shanghai (31): each an admin, a driver with a login, a
    vehicle, a main card and two sub-cards (the first on the driver and vehicle), staff in its region;
    three products and a station per region."""
    beijing, shanghai = create_region(session, "11"), create_region(session, "31")
    for code in ("92", "95", "0"):
        create_product(session, code)
    create_station(session, "ST110001", beijing, name="中国石油北京朝阳路加油站")
    create_station(session, "ST310001", shanghai, name="中国石油上海浦东加油站")
    return _fleet(session, now, 1, beijing, 1), _fleet(session, now, 2, shanghai, 101)


def _fleet(session: Session, now: datetime, n: int, region: Region, seq: int) -> Fleet:
    customer = create_customer(
        session, region, name=f"测试物流有限公司{n}", credit_code=f"91110000MA00000{n:02d}X", contact_name="王经理",
        phone="010-12345678", email=f"fleet{n}@example.com", created_at=now,
    )  # fmt: skip
    driver = create_driver(session, customer, f"司机{n}", phone="13800000000", created_at=now)
    vehicle = create_vehicle(session, customer, f"京A1234{n}", tank_ml=400_000, created_at=now)
    admin = create_user(session, f"admin{n}", "admin", now, customer_id=customer.id)
    driver_user = create_user(session, f"driver{n}", "driver", now, customer_id=customer.id, driver_id=driver.id)
    staff = create_user(session, f"staff{n}", "staff", now, region_id=region.id)
    main = create_card(session, customer, card_number(region.code, seq), role="main", issued_at=now)
    fleet = Fleet(customer, admin.id, driver, driver_user.id, vehicle, main, staff_id=staff.id)
    for i in (1, 2):
        on_driver = {"driver_id": driver.id, "vehicle_id": vehicle.id} if i == 1 else {}
        number = card_number(region.code, seq + i)
        fleet.cards.append(create_card(session, customer, number, issued_at=now, nickname=f"车{i}", **on_driver))
    return fleet


# --- queries, statistics, exports: a fleet with history ------------------------------------------


@dataclass
class History:
    """Customer "Acme" (region 11): main card, cards c1 (driver Li, 京A10001), c2 (driver Wang,
    京A10002), c3 (no driver). Customer "Other" (region 31) with card x1, to check nobody sees across."""

    acme: Customer
    other: Customer
    cards: dict[str, Card]
    drivers: dict[str, Driver]
    vehicles: dict[str, Vehicle]
    stations: dict[str, Station]
    purchases: list[Purchase] = field(default_factory=list)


def buy(session: Session, world: History, card: Card, at: datetime, *, station="S1", **purchase) -> Purchase:
    """record_purchase at one of the history's stations, remembered in `world.purchases`."""
    bought = record_purchase(session, card, world.stations[station], at, **purchase)
    world.purchases.append(bought)
    return bought


def fleet_history(session: Session, t0: datetime) -> History:
    """The fleet, with money in it: a deposit, allocations, a load, purchases this and last month."""
    world = _history_fleet(session)
    last_month = t0 - timedelta(days=20)  # 2026-02-10 for T0 = 2026-03-02
    _history_funds(session, world, last_month)
    c1, c2, x1 = world.cards["c1"], world.cards["c2"], world.cards["x1"]
    # A load onto C2's chip still waiting for the chip write: held, not yet moved.
    ledger.create_pending(
        session,
        ledger.TransferRequest(
            f"t{next(_transfer_ids)}-load",
            ledger.card_account(session, c2.id, "reserve").id,
            ledger.card_account(session, c2.id, "purse").id,
            300_00,
            "load",
        ),
        now=t0 - timedelta(hours=3),
        expires_at=t0 + timedelta(days=1),
    )
    buy(session, world, c1, last_month, amount=300_00, litres_ml=40_000, odometer_km=10_000)
    buy(session, world, c1, last_month + timedelta(days=2), amount=150_00, litres_ml=20_000, odometer_km=10_400)
    buy(session, world, c2, last_month + timedelta(days=3), amount=200_00, litres_ml=25_000, product="95", station="S2")
    buy(session, world, x1, last_month + timedelta(days=3), amount=500_00, litres_ml=70_000, product="0", station="S2")
    # This month (T0 is the 2nd, 10:00 Beijing): a purchase late on the 1st Beijing time, which is
    # still the 1st in UTC... and one just after midnight Beijing time on the 2nd (the 1st in UTC).
    first = buy(session, world, c1, t0 - timedelta(hours=12), amount=100_00, litres_ml=12_500, odometer_km=10_800)
    buy(session, world, c2, t0 - timedelta(hours=9, minutes=30), amount=80_00, litres_ml=10_000)
    buy(session, world, c1, t0 - timedelta(hours=2), amount=20_00, litres_ml=2_500, kind="refund", refund_of=first,
        points=20)  # fmt: skip
    buy(session, world, c2, t0 - timedelta(hours=1), amount=5000_00, litres_ml=600_000, status="declined",
        decline_code="insufficient_balance")  # fmt: skip
    session.flush()
    return world


def _history_fleet(session: Session) -> History:
    """The rows of the history, no money yet."""
    beijing, shanghai = create_region(session, "11"), create_region(session, "31")
    for code, zh, en in (
        ("92", "92号汽油", "92# gasoline"),
        ("95", "95号汽油", "95# gasoline"),
        ("0", "0号柴油", "0# diesel"),
    ):
        create_product(session, code, zh, en)
    stations = {
        "S1": create_station(session, "S1", beijing, name="北京朝阳站"),
        "S2": create_station(session, "S2", shanghai, name="上海浦东站"),
    }
    acme = create_customer(session, beijing, name="Acme 物流", credit_code="91110000000000001A", accounts=False)
    other = create_customer(session, shanghai, name="Other 运输", credit_code="91310000000000002B", accounts=False)
    drivers = {
        "li": create_driver(session, acme, "李师傅"),
        "wang": create_driver(session, acme, "王师傅"),
        "zhao": create_driver(session, other, "赵师傅"),
    }
    vehicles = {
        "v1": create_vehicle(session, acme, "京A10001", tank_ml=60000),
        "v2": create_vehicle(session, acme, "京A10002", tank_ml=60000),
        "x1": create_vehicle(session, other, "沪B20001", tank_ml=80000),
    }
    for customer in (acme, other):
        ledger.open_customer_accounts(session, customer.id)

    def on(driver, vehicle):
        return {"driver_id": drivers[driver].id, "vehicle_id": vehicles[vehicle].id}

    cards = {
        "main": create_card(session, acme, "9030000000000000", role="main"),
        "c1": create_card(session, acme, "9030000000000001", **on("li", "v1")),
        "c2": create_card(session, acme, "9030000000000002", **on("wang", "v2")),
        "c3": create_card(session, acme, "9030000000000003"),
        "x1": create_card(session, other, "9031000000000001", **on("zhao", "x1")),
    }
    return History(acme, other, cards, drivers, vehicles, stations)


def _history_funds(session: Session, world: History, last_month: datetime) -> None:
    """A deposit into each unit account, 2,000.00 allocated to each card and 1,000.00 loaded."""
    clearing = ledger.system_account(session, "deposits_clearing")
    for customer, names in ((world.acme, ("c1", "c2", "c3")), (world.other, ("x1",))):
        unit = ledger.unit_account(session, customer.id)
        move(session, "deposit", clearing, unit, 10_000_00, last_month - timedelta(days=5), memo="bank 001")
        for name in names:
            reserve = ledger.card_account(session, world.cards[name].id, "reserve")
            move(
                session, "allocation", unit, reserve, 2_000_00, last_month - timedelta(days=4), customer_id=customer.id
            )
            purse = ledger.card_account(session, world.cards[name].id, "purse")
            move(session, "load", reserve, purse, 1_000_00, last_month - timedelta(days=3), customer_id=customer.id)


def history_users(session: Session, world: History, now: datetime) -> None:
    """acme_admin, li (Acme's driver), other_admin, staff1 (Acme's region) and root, all with PASSWORD."""
    for username, role, fields in (
        ("acme_admin", "admin", {"customer_id": world.acme.id}),
        ("li", "driver", {"customer_id": world.acme.id, "driver_id": world.drivers["li"].id}),
        ("other_admin", "admin", {"customer_id": world.other.id}),
        ("staff1", "staff", {"region_id": world.acme.region_id}),
        ("root", "sysadmin", {}),
    ):
        create_user(session, username, role, now, **fields)


# --- the station side: stations 1,000 km apart, a funded card, terminals ------------------------------

CARD_NUMBER = "9030110000000017"
PRICE_92 = 750  # fen per litre
PRICE_0 = 720


@dataclass
class Stations:
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


def station_setup(session: Session, *, now: datetime, purse_fen: int = 100_000, number: str = CARD_NUMBER) -> Stations:
    """Beijing and Shanghai stations selling 92 and 0 with a terminal each; a Beijing customer whose
    sub-card (on driver 张三 and vehicle 京A12345, 60 l tank) holds `purse_fen` on the chip."""
    region, far = create_region(session, "11"), create_region(session, "31")
    for code in ("92", "0"):
        create_product(session, code)
    prices = {"92": PRICE_92, "0": PRICE_0}
    station = create_station(
        session, "ST110001", region, name="北京朝阳路加油站", lat_e6=39_913_818, lon_e6=116_363_625, prices=prices
    )
    far_station = create_station(
        session, "ST310001", far, name="上海浦东加油站", lat_e6=31_230_416, lon_e6=121_473_701, prices=prices
    )
    customer = create_customer(session, region, name="北京快运有限公司", credit_code="91110000000000001X")
    driver = create_driver(session, customer, "张三")
    vehicle = create_vehicle(session, customer, "京A12345", tank_ml=60_000)
    card = create_card(session, customer, number, driver_id=driver.id, vehicle_id=vehicle.id)
    fund_card(session, card, purse=purse_fen, now=now, key="w")
    terminal, key = create_terminal(session, station, "pump 1", now=now)
    far_terminal, far_key = create_terminal(session, far_station, "pump 1", now=now)
    session.flush()
    return Stations(region, far, station, far_station, customer, card, vehicle, terminal, key, far_terminal, far_key)


# --- funds and chips: three customers, sub-cards in every state ----------------------------------

#: The unit account of customer A starts with 10,000.00 yuan.
UNIT_A = 1_000_000


@dataclass
class Named:
    """Ids by name, read as attributes: `w.a1`, `w.a1_number`, `w.admin_a`."""

    ids: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.ids[name]
        except KeyError:
            raise AttributeError(name) from None


def funds_customers(session: Session, now: datetime, *, deposit: int = UNIT_A) -> Named:
    """Customers a and b in Beijing (r1), c in Shanghai (r2). A: a main card, sub-cards a1 (driver
    王师傅), a2, a3, a_lost, a_closed and `deposit` in its unit account; b: sub-card b1. Admins
    admin_a, admin_a2, admin_b, driver_a, staff_r1, staff_r2."""
    r1, r2 = create_region(session, "11"), create_region(session, "31")
    create_product(session, "92", "92号汽油", "92 gasoline")
    create_station(session, "ST110001", r1, name="中国石油北京朝阳路加油站")
    a = create_customer(session, r1, name="甲物流有限公司", credit_code="91110000000000001A", accounts=False)
    b = create_customer(session, r1, name="乙运输有限公司", credit_code="91110000000000002B", accounts=False)
    c = create_customer(session, r2, name="丙快运有限公司", credit_code="91310000000000003C", accounts=False)
    for customer in (a, b, c):
        ledger.open_customer_accounts(session, customer.id)
    driver = create_driver(session, a, "王师傅")
    cards = {
        "main_a": create_card(session, a, role="main"),
        "a1": create_card(session, a, nickname="一号车", driver_id=driver.id),
        "a2": create_card(session, a, nickname="二号车"),
        "a3": create_card(session, a, nickname="三号车"),
        "a_lost": create_card(session, a, status="lost"),
        "a_closed": create_card(session, a, status="closed"),
        "b1": create_card(session, b),
    }
    users = {
        "admin_a": create_user(session, "admin_a", "admin", now, customer_id=a.id),
        "admin_a2": create_user(session, "admin_a2", "admin", now, customer_id=a.id),
        "admin_b": create_user(session, "admin_b", "admin", now, customer_id=b.id),
        "driver_a": create_user(session, "driver_a", "driver", now, customer_id=a.id, driver_id=driver.id),
        "staff_r1": create_user(session, "staff_r1", "staff", now, region_id=r1.id),
        "staff_r2": create_user(session, "staff_r2", "staff", now, region_id=r2.id),
    }
    if deposit:
        clearing = ledger.system_account(session, "deposits_clearing")
        unit = ledger.unit_account(session, a.id)
        ledger.transfer(session, ledger.TransferRequest("seed-deposit-a", clearing.id, unit.id, deposit, "deposit"),
                        now=now)  # fmt: skip
    session.flush()
    w = Named()
    w.ids.update(r1=r1.id, r2=r2.id, a=a.id, b=b.id, c=c.id, driver=driver.id)
    w.ids.update({name: card.id for name, card in cards.items()})
    w.ids.update({f"{name}_number": card.number for name, card in cards.items()})
    w.ids.update({name: user.id for name, user in users.items()})
    return w


# --- the shell and the browser tests: one user of each role, cards in every status -------------------


@dataclass(frozen=True)
class Showcase:
    beijing_id: int
    shanghai_id: int
    customer_id: int
    other_customer_id: int
    driver_id: int
    main_card_number: str
    #: user names, all with PASSWORD
    admin: str = "shunda_admin"
    driver: str = "zhang_wei"
    staff: str = "bj_support"
    sysadmin: str = "sysadmin"
    other_admin: str = "haiyun_admin"
    password: str = PASSWORD


def showcase(session: Session, *, now: datetime, rounds: int = 4) -> Showcase:
    """Two customers in two regions, three stations, four drivers, three vehicles, cards in every
    status and one user of each role (no money: the pages must work on empty accounts)."""
    beijing, shanghai = create_region(session, "11"), create_region(session, "31")
    create_station(session, "BJ0001", beijing, name="中石油北京建国门加油站")
    create_station(session, "BJ0002", beijing, name="中石油北京望京加油站")
    create_station(session, "SH0001", shanghai, name="中石油上海浦东加油站")
    shunda = create_customer(
        session, beijing, name="北京顺达物流有限公司", credit_code="91110105MA01TEST2X", contact_name="王建国",
        phone="010-6521 8890", email="fleet@shunda-logistics.cn", address="北京市朝阳区建国路 88 号", created_at=now,
        accounts=False,
    )  # fmt: skip
    haiyun = create_customer(session, shanghai, name="上海海运储运有限公司", credit_code="91310115MA1KTEST3Y",
                             created_at=now, accounts=False)  # fmt: skip
    phones = (("张伟", "13800000001"), ("李娜", "13800000002"), ("王强", "13800000003"), ("刘洋", "13800000004"))
    drivers = [create_driver(session, shunda, name, phone=phone, created_at=now) for name, phone in phones]
    tanks = (("京A12345", 60_000), ("京B67890", 80_000), ("京C24680", 300_000))
    vehicles = [create_vehicle(session, shunda, plate, tank_ml=tank, created_at=now) for plate, tank in tanks]
    _showcase_cards(session, now, shunda, haiyun, drivers, vehicles)
    world = Showcase(beijing.id, shanghai.id, shunda.id, haiyun.id, drivers[0].id, "9030000100000001")
    for username, role, fields in (
        (world.admin, "admin", {"customer_id": shunda.id, "display_name": "王建国"}),
        (world.driver, "driver", {"customer_id": shunda.id, "driver_id": drivers[0].id, "display_name": "张伟"}),
        (world.staff, "staff", {"region_id": beijing.id, "display_name": "陈静"}),
        (world.sysadmin, "sysadmin", {"display_name": "System admin"}),
        (world.other_admin, "admin", {"customer_id": haiyun.id, "display_name": "赵敏"}),
    ):
        create_user(session, username, role, now, rounds=rounds, **fields)
    return world


def _showcase_cards(session, now, shunda, haiyun, drivers, vehicles) -> None:
    expires = date(2029, 12, 31)
    create_card(session, shunda, "9030000100000001", role="main", issued_at=now, expires_on=expires, accounts=False)
    for i, status in enumerate(("active", "active", "active", "active", "active", "lost", "closed")):
        create_card(
            session, shunda, f"90300001000001{i + 10:02d}", status=status, nickname=f"{i + 1}号车" if i < 3 else "",
            driver_id=drivers[i % len(drivers)].id, vehicle_id=vehicles[i].id if i < len(vehicles) else None,
            issued_at=now, expires_on=expires, accounts=False,
        )  # fmt: skip
    create_card(session, haiyun, "9031000200000001", role="main", issued_at=now, expires_on=expires, accounts=False)


# --- the ledger's own tests: customers with a unit account and cards, no other area -----------------


@dataclass
class Holder:
    """One customer's account ids: unit, customer points, and per card reserve / purse / points."""

    customer_id: int
    unit: int
    points: int
    card_ids: list[int] = field(default_factory=list)
    reserves: list[int] = field(default_factory=list)
    purses: list[int] = field(default_factory=list)
    card_points: list[int] = field(default_factory=list)


@dataclass
class Books:
    holders: list[Holder]
    clearing: int
    sales: int
    points_issued: int
    points_redeemed: int
    points_expired: int


def make_books(session: Session, now: datetime, *, customers: int = 2, cards: int = 3) -> Books:
    """`customers` Beijing customers with `cards` empty sub-cards each, and the account ids of all.
    Commits: the ledger's concurrency tests read the books from other connections."""
    region = create_region(session, "11")
    holders = []
    for n in range(customers):
        customer = create_customer(
            session, region, name=f"客户{n}", credit_code=f"91110000LEDGER{n:04d}", created_at=now
        )
        holder = Holder(
            customer.id,
            ledger.unit_account(session, customer.id).id,
            ledger.customer_points_account(session, customer.id).id,
        )
        for i in range(cards):
            card = create_card(session, customer, f"9{customer.id:07d}{i:08d}", issued_at=now)
            holder.card_ids.append(card.id)
            holder.reserves.append(ledger.card_account(session, card.id, "reserve").id)
            holder.purses.append(ledger.card_account(session, card.id, "purse").id)
            holder.card_points.append(ledger.card_account(session, card.id, "points").id)
        holders.append(holder)
    system = {code: ledger.system_account(session, code).id for code in
              ("deposits_clearing", "station_sales", "points_issued", "points_redeemed", "points_expired")}  # fmt: skip
    books = Books(holders, *system.values())
    session.commit()
    return books


def totals(session: Session, account_id: int) -> tuple[int, int, int, int]:
    """An account's stored (debits_posted, credits_posted, debits_pending, credits_pending), fresh."""
    session.expire_all()
    account = session.get(ledger.Account, account_id)
    return (account.debits_posted, account.credits_posted, account.debits_pending, account.credits_pending)


def bal(session: Session, account_id: int) -> int:
    session.expire_all()
    return ledger.balance(session.get(ledger.Account, account_id))


def journal_count(session: Session) -> int:
    return session.query(ledger.Transfer).count()
