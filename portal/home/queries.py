"""What each role's home page shows: read-only summaries of data that exists (no Flask here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.auth.models import User
from portal.cards.models import CARD_STATUSES, Card
from portal.customers.models import Customer
from portal.drivers.models import Driver, Vehicle
from portal.reference.models import Region, Station


@dataclass(frozen=True)
class CustomerSummary:
    """The fleet admin's home: the customer, its cards and fleet."""

    customer: Customer
    region: Region
    main_card: Card | None
    #: Sub-cards by status, every status present (0 when none).
    sub_cards_by_status: dict[str, int]
    drivers: int
    vehicles: int

    @property
    def sub_cards(self) -> int:
        return sum(self.sub_cards_by_status.values())


def customer_summary(session: Session, customer_id: int) -> CustomerSummary:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(f"no customer {customer_id}")
    counts = dict(
        session.execute(
            select(Card.status, func.count())
            .where(Card.customer_id == customer_id, Card.role == "sub")
            .group_by(Card.status)
        ).all()
    )
    main_card = session.scalar(
        select(Card).where(Card.customer_id == customer_id, Card.role == "main").order_by(Card.status, Card.id)
    )
    return CustomerSummary(
        customer=customer,
        region=session.get(Region, customer.region_id),
        main_card=main_card,
        sub_cards_by_status={status: counts.get(status, 0) for status in CARD_STATUSES},
        drivers=_count(session, Driver, Driver.customer_id == customer_id, Driver.active.is_(True)),
        vehicles=_count(session, Vehicle, Vehicle.customer_id == customer_id, Vehicle.active.is_(True)),
    )


@dataclass(frozen=True)
class DriverCard:
    card: Card
    plate: str


@dataclass(frozen=True)
class DriverSummary:
    driver: Driver
    customer: Customer
    cards: list[DriverCard] = field(default_factory=list)


def driver_summary(session: Session, driver_id: int) -> DriverSummary:
    driver = session.get(Driver, driver_id)
    if driver is None:
        raise LookupError(f"no driver {driver_id}")
    rows = session.execute(
        select(Card, Vehicle.plate)
        .outerjoin(Vehicle, Vehicle.id == Card.vehicle_id)
        .where(Card.driver_id == driver_id, Card.customer_id == driver.customer_id, Card.status != "closed")
        .order_by(Card.number)
    ).all()
    return DriverSummary(
        driver=driver,
        customer=session.get(Customer, driver.customer_id),
        cards=[DriverCard(card, plate or "") for card, plate in rows],
    )


@dataclass(frozen=True)
class RegionSummary:
    """Support staff's home: their region and what is in it."""

    region: Region
    customers: int
    customer_users: int
    stations: int


def region_summary(session: Session, region_id: int) -> RegionSummary:
    region = session.get(Region, region_id)
    if region is None:
        raise LookupError(f"no region {region_id}")
    customer_ids = select(Customer.id).where(Customer.region_id == region_id)
    return RegionSummary(
        region=region,
        customers=_count(session, Customer, Customer.region_id == region_id),
        customer_users=_count(session, User, User.customer_id.in_(customer_ids)),
        stations=_count(session, Station, Station.region_id == region_id, Station.active.is_(True)),
    )


@dataclass(frozen=True)
class SystemSummary:
    """System admin's home: the reference data and staff they manage."""

    regions: int
    stations: int
    staff: int
    customers: int


def system_summary(session: Session) -> SystemSummary:
    return SystemSummary(
        regions=_count(session, Region),
        stations=_count(session, Station, Station.active.is_(True)),
        staff=_count(session, User, User.role == "staff", User.active.is_(True)),
        customers=_count(session, Customer),
    )


def _count(session: Session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
