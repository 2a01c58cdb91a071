"""Drivers over the API: list, read, add (with their sign-in), change, deactivate and reactivate,
and a new one-time password, through the services the drivers pages call (portal.drivers.services).

A new driver's initial password (and a reset one) is in the answer once, marked `Cache-Control:
no-store`, and stored nowhere else (it is hashed at once). These requests are therefore not
idempotent: an answer holding a password is never kept for replay.
"""

from __future__ import annotations

from typing import Annotated, Literal

from flask import current_app, g
from pydantic import AfterValidator, BaseModel, Field

from portal.api import bp
from portal.api.auth import api_actor_id, api_audit, api_endpoint, owned_or_404
from portal.api.cards import MAX_ID, NO_NUL, EmptyIn, Strict
from portal.api.pagination import EPOCH, NEXT_CURSOR, PageQuery, keyset_page
from portal.api.problems import ApiProblem, Problem
from portal.api.serialize import Time, local_time
from portal.auth.policy import PasswordPolicy
from portal.drivers import services
from portal.drivers.models import Driver
from portal.extensions import clock, db
from portal.queries.cursor import Key

REPORT = "api.drivers"
#: No caching of an answer that holds a one-time password.
NO_STORE = {"Cache-Control": "no-store"}


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be blank")
    return text


Name = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL), AfterValidator(_not_blank)]
Username = Annotated[str, Field(min_length=3, max_length=64, pattern=services.USERNAME.pattern)]


class FleetQuery(PageQuery):
    """The drivers page's filters: a search text and which ones to show."""

    q: str = Field(
        "",
        max_length=64,
        pattern=NO_NUL,
        description="part of the name, phone or employee number (vehicles: plate or model)",
    )
    show: Literal["active", "inactive", "all"] = Field("active", description="active ones (default), inactive or all")


def active_filter(show: str) -> bool | None:
    """The page's `show` parameter as the services' `active` filter."""
    return None if show == "all" else show == "active"


class DriverOut(BaseModel):
    id: int
    name: str
    phone: str
    employee_no: str
    licence_no: str
    note: str
    active: bool
    created_at: Time
    deactivated_at: Time | None
    username: str | None = Field(description="the driver's sign-in; null: none")
    card_numbers: list[str] = Field(description="sub-cards assigned to the driver")


class DriverList(BaseModel):
    data: list[DriverOut]
    next_cursor: str | None = NEXT_CURSOR


class DriverIn(Strict):
    name: Name
    username: Username = Field(description="the driver's sign-in: 3-64 letters, digits or . _ - @")
    phone: str = Field("", max_length=32, pattern=NO_NUL)
    employee_no: str = Field("", max_length=32, pattern=NO_NUL)
    licence_no: str = Field("", max_length=32, pattern=NO_NUL)
    note: str = Field("", max_length=256, pattern=NO_NUL)


class DriverPatch(Strict):
    """The fields to change; a field left out keeps its value."""

    name: Name | None = None
    phone: str | None = Field(None, max_length=32, pattern=NO_NUL)
    employee_no: str | None = Field(None, max_length=32, pattern=NO_NUL)
    licence_no: str | None = Field(None, max_length=32, pattern=NO_NUL)
    note: str | None = Field(None, max_length=256, pattern=NO_NUL)


class LoginIn(Strict):
    username: Username


class DriverPassword(BaseModel):
    """A one-time password: shown here once, to be changed at the driver's first sign-in."""

    driver: DriverOut
    username: str
    initial_password: str


def _drivers_out(drivers: list[Driver]) -> list[DriverOut]:
    """The answers for `drivers`, in a fixed number of statements whatever their number."""
    ids = [d.id for d in drivers]
    logins = services.driver_logins(db.session, ids)
    cards: dict[int, list[str]] = {}
    for card in services.cards_of(db.session, driver_ids=ids):
        cards.setdefault(card.driver_id, []).append(card.number)
    return [
        DriverOut(
            id=d.id,
            name=d.name,
            phone=d.phone,
            employee_no=d.employee_no,
            licence_no=d.licence_no,
            note=d.note,
            active=d.active,
            created_at=local_time(d.created_at),
            deactivated_at=local_time(d.deactivated_at),
            username=logins[d.id].username if d.id in logins else None,
            card_numbers=cards.get(d.id, []),
        )  # fmt: skip
        for d in drivers
    ]


def driver_by_id(driver_id: int) -> Driver:
    """The key's customer's driver, else 404 `driver_not_found`."""
    return owned_or_404(Driver, driver_id if driver_id <= MAX_ID else 0, "driver_not_found", "driver")


def _policy() -> PasswordPolicy:
    return PasswordPolicy.from_config(current_app.config)


def _rounds() -> int:
    return current_app.config.get("BCRYPT_ROUNDS", 12)


@bp.get("/drivers")
@api_endpoint("read", query=FleetQuery, resp={200: DriverList}, tags=["drivers"])
def list_drivers(query: FleetQuery):
    """The customer's drivers, filtered as on the drivers page, in id order."""
    stmt = services.driver_search(g.api_customer_id, query=query.q, active=active_filter(query.show))
    page = keyset_page(
        db.session, stmt.order_by(None).order_by(Driver.id), query, report=REPORT,
        key=lambda d: Key(EPOCH, d.id), after=lambda key: Driver.id > int(key.id),
    )  # fmt: skip
    return DriverList(data=_drivers_out(page.rows), next_cursor=page.next_cursor)


@bp.get("/drivers/<int:driver_id>")
@api_endpoint("read", resp={200: DriverOut, 404: Problem}, tags=["drivers"])
def get_driver(driver_id: int):
    """One driver of the customer, with their sign-in name and cards."""
    return _drivers_out([driver_by_id(driver_id)])[0]


@bp.post("/drivers")
@api_endpoint("drivers", json=DriverIn, resp={201: DriverPassword, 409: Problem}, tags=["drivers"])
def add_driver(json: DriverIn):
    """Add a driver and their sign-in; the answer holds the initial password, once."""
    driver, user, password = services.add_driver(
        db.session, g.api_customer_id, name=json.name, username=json.username, phone=json.phone,
        employee_no=json.employee_no, licence_no=json.licence_no, note=json.note, actor_id=api_actor_id(),
        now=clock().now(), policy=_policy(), rounds=_rounds(),
    )  # fmt: skip
    api_audit("drivers.add", {"driver_id": driver.id})
    answer = DriverPassword(driver=_drivers_out([driver])[0], username=user.username, initial_password=password)
    return answer, 201, NO_STORE


@bp.patch("/drivers/<int:driver_id>")
@api_endpoint("drivers", json=DriverPatch, resp={200: DriverOut, 404: Problem}, tags=["drivers"])
def update_driver(driver_id: int, json: DriverPatch):
    """Change a driver's name, phone, employee number, licence number or note."""
    driver = driver_by_id(driver_id)
    changes = {name: getattr(json, name) or "" for name in json.model_fields_set}
    if "name" in changes and not changes["name"]:
        raise ApiProblem(422, "validation_failed", "the request has invalid fields",
                         errors=[{"field": "body.name", "message": "a driver needs a name"}])  # fmt: skip
    services.update_driver(db.session, driver, actor_id=api_actor_id(), now=clock().now(), **changes)
    api_audit("drivers.update", {"driver_id": driver.id, "fields": sorted(changes)})
    return _drivers_out([driver])[0]


@bp.post("/drivers/<int:driver_id>/deactivate")
@api_endpoint("drivers", json=EmptyIn, resp={200: DriverOut, 404: Problem}, tags=["drivers"])
def deactivate_driver(driver_id: int):
    """Deactivate a driver: their sign-in stops working at once; their cards stay active and assigned."""
    return _set_active(driver_by_id(driver_id), False)


@bp.post("/drivers/<int:driver_id>/reactivate")
@api_endpoint("drivers", json=EmptyIn, resp={200: DriverOut, 404: Problem}, tags=["drivers"])
def reactivate_driver(driver_id: int):
    """Reactivate a driver (and their sign-in)."""
    return _set_active(driver_by_id(driver_id), True)


def _set_active(driver: Driver, active: bool) -> DriverOut:
    services.set_driver_active(db.session, driver, active, actor_id=api_actor_id(), now=clock().now())
    api_audit("drivers.activate" if active else "drivers.deactivate", {"driver_id": driver.id})
    return _drivers_out([driver])[0]


@bp.post("/drivers/<int:driver_id>/login")
@api_endpoint("drivers", json=LoginIn, resp={201: DriverPassword, 404: Problem, 409: Problem}, tags=["drivers"])
def create_login(driver_id: int, json: LoginIn):
    """A sign-in for an active driver who has none; the answer holds its initial password, once."""
    driver = driver_by_id(driver_id)
    if services.driver_login(db.session, driver.id) is not None or not driver.active:
        raise ApiProblem(409, "login_not_possible", "this driver already has a sign-in, or is inactive")
    user, password = services.create_driver_login(
        db.session, driver, json.username, actor_id=api_actor_id(), now=clock().now(), policy=_policy(),
        rounds=_rounds(),
    )  # fmt: skip
    api_audit("drivers.create_login", {"driver_id": driver.id})
    answer = DriverPassword(driver=_drivers_out([driver])[0], username=user.username, initial_password=password)
    return answer, 201, NO_STORE


@bp.post("/drivers/<int:driver_id>/reset-password")
@api_endpoint("drivers", json=EmptyIn, resp={200: DriverPassword, 404: Problem, 409: Problem}, tags=["drivers"])
def reset_password(driver_id: int):
    """A new one-time password for the driver's sign-in (the old one stops working, their sessions end)."""
    driver = driver_by_id(driver_id)
    login = services.driver_login(db.session, driver.id)
    if login is None:
        raise ApiProblem(409, "no_login", "this driver has no sign-in; create one first")
    password = services.reset_driver_password(
        db.session, driver, actor_id=api_actor_id(), now=clock().now(), policy=_policy(), rounds=_rounds()
    )
    api_audit("drivers.reset_password", {"driver_id": driver.id})
    answer = DriverPassword(driver=_drivers_out([driver])[0], username=login.username, initial_password=password)
    return answer, 200, NO_STORE
