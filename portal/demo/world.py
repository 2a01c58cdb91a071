"""The demo world: customers in different regions with admins, drivers, vehicles and cards, support
staff for their regions and one system admin.

Everything is derived from the seed: the same seed builds the same names, codes, plates and card
assignments. User names do not depend on the seed (fleet1_admin, staff_beijing, ...) so that the
README and `make run` can name them. A customer that already exists (found by its credit code) is
left alone and only its logins are reported, which makes a second run harmless.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import ledger
from portal.auth.models import User
from portal.auth.services import create_user, find_user
from portal.cards.models import Card
from portal.cards.numbers import next_card_number
from portal.clock import BUSINESS_TZ
from portal.customers.models import Customer
from portal.demo import names
from portal.drivers.models import Driver, Vehicle
from portal.reference import data as reference
from portal.reference.models import Region
from portal.reference.services import load_reference_data, region_by_code

#: Same for every demo user: 13 characters, upper, lower, digit and symbol, no user name in it.
DEMO_PASSWORD = "Demo#2026pass"
#: Customers go to these regions in turn (big fleets; each has three stations in the data).
DEMO_REGIONS = ("11", "44", "51", "31", "37", "42", "32", "61", "21", "33")
SYSADMIN = "sysadmin"
#: The kind of fleet of each customer in turn: a haulier, a delivery company, a taxi company.
_FLEETS = ("truck", "van", "car")
#: Tank sizes in litres, by the kind of vehicle a fleet runs.
_TANKS = {"truck": (300, 400, 400, 500, 600), "van": (60, 70, 80, 90), "car": (50, 55, 60, 70)}


class DemoConflict(Exception):
    """The database holds users or data that a demo world with this seed would collide with."""


@dataclass(frozen=True)
class DemoOptions:
    customers: int = 3
    cards: int = 6
    months: int = 4
    seed: int = 2026


@dataclass
class Login:
    username: str
    password: str
    role: str
    scope: str  # customer name, or region, or "" for the system admin


@dataclass
class DemoCustomer:
    """What the activity generator needs to know about one customer's fleet."""

    index: int
    customer: Customer
    fleet: str  # "truck", "van" or "car"
    main_card: Card
    sub_cards: list[Card]
    vehicles: dict[int, Vehicle]  # by id
    admin: User
    created: bool


@dataclass
class DemoWorld:
    customers: list[DemoCustomer] = field(default_factory=list)
    logins: list[Login] = field(default_factory=list)
    staff: dict[int, User] = field(default_factory=dict)  # by region id
    created_customers: int = 0


def history_start(now: datetime, months: int) -> datetime:
    """Midnight (Shanghai) of the first day of the month `months - 1` months before `now`'s month."""
    local = now.astimezone(BUSINESS_TZ)
    year, month = local.year, local.month - (months - 1)
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=BUSINESS_TZ).astimezone(UTC)


def _username_for_staff(region_code: str) -> str:
    return "staff_" + reference.region_data(region_code).name_en.lower().replace(" ", "")


def customer_usernames(index: int) -> list[tuple[str, str]]:
    """(user name, role) of customer `index`'s logins: the first customer has two admins."""
    logins = [(f"fleet{index}_admin", "admin")]
    if index == 1:
        logins.append((f"fleet{index}_admin2", "admin"))
    logins += [(f"fleet{index}_driver1", "driver"), (f"fleet{index}_driver2", "driver")]
    return logins


def _rng(options: DemoOptions, *parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (options.seed, *parts)))


def _customer_spec(options: DemoOptions, index: int) -> dict:
    """The customer's identity, derived from the seed alone (so it can be looked up before building)."""
    rng = _rng(options, "customer", index)
    region_code = DEMO_REGIONS[(index - 1) % len(DEMO_REGIONS)]
    region = reference.region_data(region_code)
    city = reference.cities_of(region_code)[0]
    fleet = _FLEETS[(index - 1) % len(_FLEETS)]
    company = names.company(rng, city.name_zh, fleet)
    return {
        "region_code": region_code,
        "city": city,
        "name": company,
        "fleet": fleet,
        "credit_code": names.credit_code(rng, region_code),
        "contact": names.person_name(rng),
        "mobile": names.mobile(rng),
        "address": names.address(rng, region.name_zh, city.name_zh),
    }


def build_world(session: Session, options: DemoOptions, *, now: datetime, rounds: int) -> DemoWorld:
    """Build (or find) the demo world for `options`. Flushes; the caller commits."""
    load_reference_data(session)
    world = DemoWorld()
    start = history_start(now, options.months)

    for index in range(1, options.customers + 1):
        spec = _customer_spec(options, index)
        region = region_by_code(session, spec["region_code"])
        existing = session.scalar(select(Customer).where(Customer.credit_code == spec["credit_code"]))
        if existing is None:
            _check_free(session, [name for name, _ in customer_usernames(index)], spec["name"])
            demo = _build_customer(session, options, index, spec, region, start, now, rounds)
            world.created_customers += 1
        else:
            demo = _load_customer(session, index, spec, existing)
        world.customers.append(demo)
        for username, role in customer_usernames(index):
            if find_user(session, username) is not None:
                world.logins.append(Login(username, DEMO_PASSWORD, role, demo.customer.name))

    for demo in world.customers:
        region = session.get(Region, demo.customer.region_id)
        if region.id not in world.staff:
            world.staff[region.id] = _get_or_create_user(
                session,
                _username_for_staff(region.code),
                "staff",
                rounds,
                now,
                display_name=f"{region.name_zh}客服",
                region_id=region.id,
            )
            world.logins.append(Login(world.staff[region.id].username, DEMO_PASSWORD, "staff", region.name_en))

    _get_or_create_user(session, SYSADMIN, "sysadmin", rounds, now, display_name="系统管理员")
    world.logins.append(Login(SYSADMIN, DEMO_PASSWORD, "sysadmin", ""))
    session.flush()
    return world


def _check_free(session: Session, usernames: list[str], customer_name: str) -> None:
    taken = [username for username in usernames if find_user(session, username) is not None]
    if taken:
        raise DemoConflict(
            f"user {taken[0]} already exists but customer {customer_name} does not: the database holds a demo "
            "world built with another --seed (run again with that seed, or start from an empty database)"
        )


def _get_or_create_user(session: Session, username: str, role: str, rounds: int, now: datetime, **fields) -> User:
    # Passwords are set `now`, not at the start of the history: the password policy expires old ones.
    user = find_user(session, username)
    if user is None:
        user = create_user(
            session, username=username, password=DEMO_PASSWORD, role=role, rounds=rounds, now=now, **fields
        )
    return user


def _build_customer(
    session: Session,
    options: DemoOptions,
    index: int,
    spec: dict,
    region: Region,
    start: datetime,
    now: datetime,
    rounds: int,
) -> DemoCustomer:
    """The customer with its accounts, fleet, cards and logins. One random stream per customer, drawn
    in a fixed order (drivers, plates, tanks, then the second admin), so a seed gives one world."""
    rng = _rng(options, "fleet", index)
    customer = _new_customer(session, index, spec, region, start)
    drivers = _new_drivers(session, rng, customer, index, options.cards, start)
    vehicles = _new_vehicles(session, rng, customer, region, spec["fleet"], options.cards, start)
    main_card, sub_cards = _issue_cards(session, customer, region, drivers, vehicles, start)
    admin = _create_logins(session, rng, customer, index, spec, drivers, now, rounds)
    return DemoCustomer(
        index, customer, spec["fleet"], main_card, sub_cards, {v.id: v for v in vehicles}, admin, created=True
    )


def _new_customer(session: Session, index: int, spec: dict, region: Region, start: datetime) -> Customer:
    customer = Customer(
        name=spec["name"],
        credit_code=spec["credit_code"],
        region_id=region.id,
        contact_name=spec["contact"],
        phone=spec["mobile"],
        mobile=spec["mobile"],
        email=f"fleet{index}@example.com",
        address=spec["address"],
        invoice_title=spec["name"],
        invoice_tax_number=spec["credit_code"],
        created_at=start,
    )
    session.add(customer)
    session.flush()
    ledger.open_customer_accounts(session, customer.id)
    return customer


def _new_drivers(
    session: Session, rng: random.Random, customer: Customer, index: int, card_count: int, start: datetime
) -> list[Driver]:
    """About three drivers for every four cards (at least two): some drivers share the wheel."""
    drivers = [
        Driver(
            customer_id=customer.id,
            name=names.person_name(rng),
            phone=names.mobile(rng),
            employee_no=f"D{index:02d}{n:03d}",
            created_at=start,
        )
        for n in range(1, max(2, (card_count * 3 + 3) // 4) + 1)
    ]
    session.add_all(drivers)
    session.flush()
    return drivers


def _new_vehicles(
    session: Session, rng: random.Random, customer: Customer, region: Region, fleet: str, count: int, start: datetime
) -> list[Vehicle]:
    """`count` vehicles with distinct local plates and tanks the size of the fleet's kind."""
    region_data = reference.region_data(region.code)
    plates: set[str] = set()
    while len(plates) < count:
        city = rng.choice(reference.cities_of(region.code))
        plates.add(names.plate(rng, region_data.plate, city.plate_letter))
    vehicles = [
        Vehicle(customer_id=customer.id, plate=plate, tank_ml=rng.choice(_TANKS[fleet]) * 1000, created_at=start)
        for plate in sorted(plates)
    ]
    session.add_all(vehicles)
    session.flush()
    return vehicles


def _issue_cards(
    session: Session,
    customer: Customer,
    region: Region,
    drivers: list[Driver],
    vehicles: list[Vehicle],
    start: datetime,
) -> tuple[Card, list[Card]]:
    """The main card, then one sub-card per vehicle (drivers taken in turn), each with its accounts."""
    expires_on = date(start.year + 5, start.month, min(start.day, 28))
    main_card = Card(
        number=next_card_number(session, region.code),
        customer_id=customer.id,
        role="main",
        nickname="主卡",
        issued_at=start,
        expires_on=expires_on,
    )
    session.add(main_card)
    session.flush()
    sub_cards = []
    for n, vehicle in enumerate(vehicles):
        driver = drivers[n % len(drivers)]
        card = Card(
            number=next_card_number(session, region.code),
            customer_id=customer.id,
            role="sub",
            nickname=vehicle.plate,
            driver_id=driver.id,
            vehicle_id=vehicle.id,
            issued_at=start,
            expires_on=expires_on,
        )
        session.add(card)
        session.flush()  # the next number is computed from the highest one issued
        ledger.open_card_accounts(session, customer.id, card.id)
        sub_cards.append(card)
    return main_card, sub_cards


def _create_logins(
    session: Session,
    rng: random.Random,
    customer: Customer,
    index: int,
    spec: dict,
    drivers: list[Driver],
    now: datetime,
    rounds: int,
) -> User:
    """The customer's users (customer_usernames): the first admin is the contact person, drivers sign
    in as the first drivers. Returns the first admin."""
    admin = None
    driver_number = 0
    for username, role in customer_usernames(index):
        fields = {"customer_id": customer.id, "email": f"{username}@example.com"}
        if role == "admin":
            fields["display_name"] = spec["contact"] if admin is None else names.person_name(rng)
            fields["phone"] = spec["mobile"] if admin is None else names.mobile(rng)
        else:
            driver = drivers[driver_number]
            driver_number += 1
            fields.update(driver_id=driver.id, display_name=driver.name, phone=driver.phone)
        user = create_user(
            session, username=username, password=DEMO_PASSWORD, role=role, rounds=rounds, now=now, **fields
        )
        admin = admin or user
    return admin


def _load_customer(session: Session, index: int, spec: dict, customer: Customer) -> DemoCustomer:
    cards = list(session.scalars(select(Card).where(Card.customer_id == customer.id).order_by(Card.id)))
    vehicles = {v.id: v for v in session.scalars(select(Vehicle).where(Vehicle.customer_id == customer.id))}
    admin = find_user(session, f"fleet{index}_admin")
    main = next(card for card in cards if card.role == "main")
    subs = [card for card in cards if card.role == "sub"]
    return DemoCustomer(index, customer, spec["fleet"], main, subs, vehicles, admin, created=False)


def existing_logins(session: Session, options: DemoOptions) -> list[Login]:
    """The demo logins present in the database, without building anything (`--if-empty`)."""
    logins = []
    region_codes: list[str] = []
    for index in range(1, options.customers + 1):
        for username, role in customer_usernames(index):
            user = find_user(session, username)
            if user is not None and user.customer_id is not None:
                logins.append(Login(username, DEMO_PASSWORD, role, session.get(Customer, user.customer_id).name))
        region_code = DEMO_REGIONS[(index - 1) % len(DEMO_REGIONS)]
        if region_code not in region_codes:
            region_codes.append(region_code)
    for region_code in region_codes:
        username = _username_for_staff(region_code)
        if find_user(session, username) is not None:
            logins.append(Login(username, DEMO_PASSWORD, "staff", reference.region_data(region_code).name_en))
    if find_user(session, SYSADMIN) is not None:
        logins.append(Login(SYSADMIN, DEMO_PASSWORD, "sysadmin", ""))
    return logins
