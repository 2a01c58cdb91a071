"""Drivers and vehicles of a fleet (车队司机管理). Services flush, never commit; every change is audited.

Each driver gets a driver login (role `driver`) with a one-time initial password that the admin sees
once and hands over; the driver must change it at the first sign-in. Deactivating a driver disables
the login and ends its sessions; the driver's history stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.audit.services import record
from portal.auth import services as auth
from portal.auth.credentials import set_password, temporary_password
from portal.auth.models import User
from portal.auth.policy import PasswordPolicy
from portal.auth.services import create_user, end_all_sessions
from portal.cards.controls import normalize_plate
from portal.cards.models import Card
from portal.drivers import validation
from portal.drivers.models import Driver, Vehicle

USERNAME = re.compile(r"^[A-Za-z0-9_.\-@]{3,64}$")


class DriverError(Exception):
    code = "driver_error"


class UsernameTaken(DriverError):
    """The name is in use (whose is never said); `suggestion` is a free one."""

    code = "username_taken"

    def __init__(self, suggestion: str):
        super().__init__("this user name is taken")
        self.suggestion = suggestion


class InvalidUsername(DriverError):
    code = "invalid_username"


class PlateTaken(DriverError):
    code = "plate_taken"


class InvalidPlate(DriverError):
    code = "invalid_plate"


def _audit(session: Session, action: str, customer_id: int, actor_id: int | None, now: datetime, **detail) -> None:
    record(session, action, actor_id=actor_id, customer_id=customer_id, detail=detail, now=now)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --- drivers ----------------------------------------------------------------------------------------


def search_drivers(session: Session, customer_id: int, *, query: str = "", active: bool | None = None) -> list[Driver]:
    return list(session.scalars(driver_search(customer_id, query=query, active=active)))


def driver_search(customer_id: int, *, query: str = "", active: bool | None = None):
    """The statement behind `search_drivers` (name, phone, employee number), for callers that page in SQL."""
    stmt = select(Driver).where(Driver.customer_id == customer_id).order_by(Driver.active.desc(), Driver.name)
    if active is not None:
        stmt = stmt.where(Driver.active.is_(active))
    if query.strip():
        like = _like(query.strip())
        stmt = stmt.where(
            or_(
                Driver.name.like(like, escape="\\"),
                Driver.phone.like(like, escape="\\"),
                Driver.employee_no.like(like, escape="\\"),
            )
        )
    return stmt


def driver_login(session: Session, driver_id: int) -> User | None:
    return session.scalar(select(User).where(User.driver_id == driver_id))


def driver_logins(session: Session, driver_ids: list[int]) -> dict[int, User]:
    """The sign-in of each of these drivers that has one, in one statement."""
    if not driver_ids:
        return {}
    return {user.driver_id: user for user in session.scalars(select(User).where(User.driver_id.in_(driver_ids)))}


def cards_of(session: Session, *, driver_ids: list[int] = (), vehicle_ids: list[int] = ()) -> list[Card]:
    """The cards (main and sub) assigned to any of these drivers or vehicles, in number order, in one statement."""
    if not driver_ids and not vehicle_ids:
        return []
    stmt = select(Card).where(or_(Card.driver_id.in_(list(driver_ids)), Card.vehicle_id.in_(list(vehicle_ids))))
    return list(session.scalars(stmt.where(Card.role == "sub").order_by(Card.number)))


def add_driver(
    session: Session,
    customer_id: int,
    *,
    name: str,
    username: str,
    phone: str = "",
    employee_no: str = "",
    licence_no: str = "",
    note: str = "",
    actor_id: int | None,
    now: datetime,
    policy: PasswordPolicy,
    rounds: int,
) -> tuple[Driver, User, str]:
    """A new driver with a login. Returns (driver, user, initial password): show the password once."""
    username = _check_username(session, username)
    driver = Driver(
        customer_id=customer_id,
        name=name.strip(),
        phone=phone.strip(),
        employee_no=employee_no.strip(),
        licence_no=licence_no.strip(),
        note=note.strip(),
        created_at=now,
    )
    session.add(driver)
    session.flush()
    user, password = _create_login(session, driver, username, now=now, policy=policy, rounds=rounds)
    _audit(session, "drivers.add", customer_id, actor_id, now, driver_id=driver.id, name=driver.name, username=username)
    return driver, user, password


def _check_username(session: Session, username: str) -> str:
    """The driver login's name, stripped, if well formed and free (auth's one rule for taken names)."""
    username = username.strip()
    if not USERNAME.match(username):
        raise InvalidUsername("3-64 letters, digits, or . _ - @")
    try:
        return auth.claim_username(session, username)
    except auth.UsernameTaken as taken:
        raise UsernameTaken(taken.suggestion) from None


def _create_login(
    session: Session, driver: Driver, username: str, *, now: datetime, policy: PasswordPolicy, rounds: int
) -> tuple[User, str]:
    password = temporary_password(policy, username)
    try:
        user = create_user(
            session,
            username=username,
            password=password,
            role="driver",
            rounds=rounds,
            now=now,
            customer_id=driver.customer_id,
            driver_id=driver.id,
            display_name=driver.name[:64],
            phone=driver.phone,
            must_change_password=True,
        )
    except auth.UsernameTaken as taken:  # a name claimed meanwhile (the check above ran first)
        raise UsernameTaken(taken.suggestion) from None
    return user, password


def create_driver_login(
    session: Session,
    driver: Driver,
    username: str,
    *,
    actor_id: int | None,
    now: datetime,
    policy: PasswordPolicy,
    rounds: int,
) -> tuple[User, str]:
    """A sign-in for a driver who has none yet (e.g. added before logins existed)."""
    if driver_login(session, driver.id) is not None:
        raise DriverError("this driver has a login already")
    if not driver.active:
        raise DriverError("an inactive driver cannot get a login")
    username = _check_username(session, username)
    user, password = _create_login(session, driver, username, now=now, policy=policy, rounds=rounds)
    _audit(session, "drivers.create_login", driver.customer_id, actor_id, now, driver_id=driver.id, username=username)
    return user, password


def update_driver(session: Session, driver: Driver, *, actor_id: int | None, now: datetime, **changes) -> Driver:
    """Change name, phone, employee number, licence number or note."""
    allowed = {"name", "phone", "employee_no", "licence_no", "note"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    before = {key: getattr(driver, key) for key in changes}
    for key, value in changes.items():
        setattr(driver, key, value.strip())
    after = {key: getattr(driver, key) for key in changes}
    if before != after:
        user = driver_login(session, driver.id)
        if user is not None and "name" in changes:
            user.display_name = driver.name[:64]
        _audit(
            session,
            "drivers.update",
            driver.customer_id,
            actor_id,
            now,
            driver_id=driver.id,
            before=before,
            after=after,
        )
    session.flush()
    return driver


def set_driver_active(session: Session, driver: Driver, active: bool, *, actor_id: int | None, now: datetime) -> Driver:
    """Deactivate (login disabled, sessions ended) or reactivate a driver."""
    if driver.active == active:
        return driver
    driver.active = active
    driver.deactivated_at = None if active else now
    user = driver_login(session, driver.id)
    if user is not None:
        user.active = active
        if not active:
            end_all_sessions(session, user.id, now=now)
    _audit(
        session,
        "drivers.activate" if active else "drivers.deactivate",
        driver.customer_id,
        actor_id,
        now,
        driver_id=driver.id,
        name=driver.name,
    )
    session.flush()
    return driver


def reset_driver_password(
    session: Session, driver: Driver, *, actor_id: int | None, now: datetime, policy: PasswordPolicy, rounds: int
) -> str:
    """A new one-time password for the driver's login (shown once); must be changed at sign-in."""
    user = driver_login(session, driver.id)
    if user is None:
        raise DriverError("this driver has no login")
    password = temporary_password(policy, user.username)
    set_password(session, user, password, policy=policy, rounds=rounds, now=now)
    user.must_change_password = True
    end_all_sessions(session, user.id, now=now)
    _audit(
        session,
        "drivers.reset_password",
        driver.customer_id,
        actor_id,
        now,
        driver_id=driver.id,
        username=user.username,
    )
    session.flush()
    return password


# --- vehicles ---------------------------------------------------------------------------------------


def search_vehicles(
    session: Session, customer_id: int, *, query: str = "", active: bool | None = None
) -> list[Vehicle]:
    return list(session.scalars(vehicle_search(customer_id, query=query, active=active)))


def vehicle_search(customer_id: int, *, query: str = "", active: bool | None = None):
    """The statement behind `search_vehicles` (plate, make and model), for callers that page in SQL."""
    stmt = select(Vehicle).where(Vehicle.customer_id == customer_id).order_by(Vehicle.active.desc(), Vehicle.plate)
    if active is not None:
        stmt = stmt.where(Vehicle.active.is_(active))
    if query.strip():
        like = _like(normalize_plate(query) or query.strip())
        stmt = stmt.where(
            or_(Vehicle.plate.like(like, escape="\\"), Vehicle.model.like(_like(query.strip()), escape="\\"))
        )
    return stmt


def _check_plate(session: Session, customer_id: int, plate: str, vehicle: Vehicle | None = None) -> str:
    try:
        plate = validation.check_plate(plate)
    except validation.InvalidPlate:
        raise InvalidPlate("not a licence plate") from None
    clash = session.scalar(select(Vehicle).where(Vehicle.customer_id == customer_id, Vehicle.plate == plate))
    if clash is not None and clash is not vehicle:
        raise PlateTaken("this plate is registered already")
    return plate


@contextmanager
def _plate_claimed(session: Session) -> Iterator[None]:
    """Write a vehicle's plate in a savepoint: a plate registered by a request running at the same
    time (after `_check_plate` looked) trips the unique index and becomes PlateTaken, not a 500."""
    session.flush()  # what the caller changed before goes in outside the savepoint
    try:
        with session.begin_nested():
            yield
    except IntegrityError as error:
        if "plate" not in str(error.orig):  # another constraint: a bug, not a taken plate
            raise
        raise PlateTaken("this plate is registered already") from None


def add_vehicle(
    session: Session,
    customer_id: int,
    *,
    plate: str,
    tank_ml: int,
    model: str = "",
    note: str = "",
    actor_id: int | None,
    now: datetime,
) -> Vehicle:
    if validation.tank_problem(tank_ml):
        raise ValueError(f"tank capacity must be 1 ml to {validation.MAX_TANK_ML} ml")
    plate = _check_plate(session, customer_id, plate)
    vehicle = Vehicle(
        customer_id=customer_id, plate=plate, tank_ml=tank_ml, model=model.strip(), note=note.strip(), created_at=now
    )
    with _plate_claimed(session):
        session.add(vehicle)
    _audit(session, "vehicles.add", customer_id, actor_id, now, vehicle_id=vehicle.id, plate=plate)
    return vehicle


def update_vehicle(
    session: Session,
    vehicle: Vehicle,
    *,
    plate: str,
    tank_ml: int,
    model: str,
    note: str,
    actor_id: int | None,
    now: datetime,
) -> Vehicle:
    if validation.tank_problem(tank_ml):
        raise ValueError(f"tank capacity must be 1 ml to {validation.MAX_TANK_ML} ml")
    plate = _check_plate(session, vehicle.customer_id, plate, vehicle)
    before = {"plate": vehicle.plate, "tank_ml": vehicle.tank_ml, "model": vehicle.model, "note": vehicle.note}
    with _plate_claimed(session):
        vehicle.plate, vehicle.tank_ml, vehicle.model, vehicle.note = plate, tank_ml, model.strip(), note.strip()
    after = {"plate": vehicle.plate, "tank_ml": vehicle.tank_ml, "model": vehicle.model, "note": vehicle.note}
    if before != after:
        _audit(
            session,
            "vehicles.update",
            vehicle.customer_id,
            actor_id,
            now,
            vehicle_id=vehicle.id,
            before=before,
            after=after,
        )
    session.flush()
    return vehicle


def vehicle_cards(session: Session, vehicle: Vehicle) -> list[Card]:
    """The cards still assigned to a vehicle (closed ones left out), in number order."""
    stmt = select(Card).where(Card.vehicle_id == vehicle.id, Card.status != "closed").order_by(Card.number)
    return list(session.scalars(stmt))


def set_vehicle_active(
    session: Session, vehicle: Vehicle, active: bool, *, actor_id: int | None, now: datetime
) -> Vehicle:
    if vehicle.active == active:
        return vehicle
    vehicle.active = active
    vehicle.deactivated_at = None if active else now
    _audit(
        session,
        "vehicles.activate" if active else "vehicles.deactivate",
        vehicle.customer_id,
        actor_id,
        now,
        vehicle_id=vehicle.id,
        plate=vehicle.plate,
    )
    session.flush()
    return vehicle
