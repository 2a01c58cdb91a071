"""Vehicles over the API: list, read, add, change, deactivate and reactivate, through the services
the drivers pages call (portal.drivers.services), with the vehicle rules' one home
(portal.drivers.validation): a mainland licence plate (422 `invalid_plate`), unique per customer
(409 `plate_taken`), a tank of 1 ml to 2,000 L."""

from __future__ import annotations

from typing import Annotated

from flask import g
from pydantic import AfterValidator, BaseModel, Field, StrictInt

from portal.api import bp
from portal.api.auth import api_actor_id, api_audit, api_endpoint, owned_or_404
from portal.api.cards import MAX_ID, NO_NUL, EmptyIn, Strict
from portal.api.drivers import FleetQuery, active_filter
from portal.api.pagination import EPOCH, NEXT_CURSOR, keyset_page
from portal.api.problems import ApiProblem, Problem
from portal.api.serialize import Time, local_time
from portal.drivers import services, validation
from portal.drivers.models import Vehicle
from portal.extensions import clock, db
from portal.queries.cursor import Key

REPORT = "api.vehicles"


def _tank(tank_ml: int) -> int:
    problem = validation.tank_problem(tank_ml)
    if problem:
        raise ValueError(f"the tank capacity must be 1 ml to {validation.MAX_TANK_ML} ml ({problem})")
    return tank_ml


TankMl = Annotated[StrictInt, AfterValidator(_tank), Field(description="tank capacity in millilitres")]
Plate = Annotated[str, Field(min_length=1, max_length=16, pattern=NO_NUL, description="licence plate, e.g. 京A12345")]


class VehicleOut(BaseModel):
    id: int
    plate: str
    tank_ml: int
    model: str
    note: str
    active: bool
    created_at: Time
    deactivated_at: Time | None
    card_numbers: list[str] = Field(description="sub-cards assigned to the vehicle")


class VehicleList(BaseModel):
    data: list[VehicleOut]
    next_cursor: str | None = NEXT_CURSOR


class VehicleIn(Strict):
    plate: Plate
    tank_ml: TankMl
    model: str = Field("", max_length=64, pattern=NO_NUL, description="make and model")
    note: str = Field("", max_length=256, pattern=NO_NUL)


class VehiclePatch(Strict):
    """The fields to change; a field left out keeps its value."""

    plate: Plate | None = None
    tank_ml: TankMl | None = None
    model: str | None = Field(None, max_length=64, pattern=NO_NUL)
    note: str | None = Field(None, max_length=256, pattern=NO_NUL)


def _vehicles_out(vehicles: list[Vehicle]) -> list[VehicleOut]:
    """The answers for `vehicles`, in a fixed number of statements whatever their number."""
    cards: dict[int, list[str]] = {}
    for card in services.cards_of(db.session, vehicle_ids=[v.id for v in vehicles]):
        cards.setdefault(card.vehicle_id, []).append(card.number)
    return [
        VehicleOut(
            id=v.id,
            plate=v.plate,
            tank_ml=v.tank_ml,
            model=v.model,
            note=v.note,
            active=v.active,
            created_at=local_time(v.created_at),
            deactivated_at=local_time(v.deactivated_at),
            card_numbers=cards.get(v.id, []),
        )  # fmt: skip
        for v in vehicles
    ]


def vehicle_by_id(vehicle_id: int) -> Vehicle:
    """The key's customer's vehicle, else 404 `vehicle_not_found`."""
    return owned_or_404(Vehicle, vehicle_id if vehicle_id <= MAX_ID else 0, "vehicle_not_found", "vehicle")


@bp.get("/vehicles")
@api_endpoint("read", query=FleetQuery, resp={200: VehicleList}, tags=["vehicles"])
def list_vehicles(query: FleetQuery):
    """The customer's vehicles, filtered as on the drivers page (plate or model; active), in id order."""
    stmt = services.vehicle_search(g.api_customer_id, query=query.q, active=active_filter(query.show))
    page = keyset_page(
        db.session, stmt.order_by(None).order_by(Vehicle.id), query, report=REPORT,
        key=lambda v: Key(EPOCH, v.id), after=lambda key: Vehicle.id > int(key.id),
    )  # fmt: skip
    return VehicleList(data=_vehicles_out(page.rows), next_cursor=page.next_cursor)


@bp.get("/vehicles/<int:vehicle_id>")
@api_endpoint("read", resp={200: VehicleOut, 404: Problem}, tags=["vehicles"])
def get_vehicle(vehicle_id: int):
    """One vehicle of the customer, with the cards assigned to it."""
    return _vehicles_out([vehicle_by_id(vehicle_id)])[0]


@bp.post("/vehicles")
@api_endpoint("drivers", json=VehicleIn, resp={201: VehicleOut, 409: Problem}, tags=["vehicles"])
def add_vehicle(json: VehicleIn):
    """Register a vehicle."""
    vehicle = services.add_vehicle(
        db.session, g.api_customer_id, plate=json.plate, tank_ml=json.tank_ml, model=json.model, note=json.note,
        actor_id=api_actor_id(), now=clock().now(),
    )  # fmt: skip
    api_audit("vehicles.add", {"vehicle_id": vehicle.id, "plate": vehicle.plate})
    return _vehicles_out([vehicle])[0], 201


@bp.patch("/vehicles/<int:vehicle_id>")
@api_endpoint("drivers", json=VehiclePatch, resp={200: VehicleOut, 404: Problem, 409: Problem}, tags=["vehicles"])
def update_vehicle(vehicle_id: int, json: VehiclePatch):
    """Change a vehicle's plate, tank capacity, make and model or note."""
    vehicle = vehicle_by_id(vehicle_id)
    given = {name: getattr(json, name) for name in json.model_fields_set}
    if given.get("plate", "") is None or given.get("tank_ml", 0) is None:
        raise ApiProblem(422, "validation_failed", "the request has invalid fields",
                         errors=[{"field": "body", "message": "plate and tank_ml cannot be null"}])  # fmt: skip
    services.update_vehicle(
        db.session, vehicle,
        plate=given.get("plate", vehicle.plate), tank_ml=given.get("tank_ml", vehicle.tank_ml),
        model=given.get("model", vehicle.model) or "", note=given.get("note", vehicle.note) or "",
        actor_id=api_actor_id(), now=clock().now(),
    )  # fmt: skip
    api_audit("vehicles.update", {"vehicle_id": vehicle.id, "fields": sorted(given)})
    return _vehicles_out([vehicle])[0]


@bp.post("/vehicles/<int:vehicle_id>/deactivate")
@api_endpoint("drivers", json=EmptyIn, resp={200: VehicleOut, 404: Problem}, tags=["vehicles"])
def deactivate_vehicle(vehicle_id: int):
    """Deactivate a vehicle; the cards assigned to it stay active and assigned."""
    return _set_active(vehicle_by_id(vehicle_id), False)


@bp.post("/vehicles/<int:vehicle_id>/reactivate")
@api_endpoint("drivers", json=EmptyIn, resp={200: VehicleOut, 404: Problem}, tags=["vehicles"])
def reactivate_vehicle(vehicle_id: int):
    """Reactivate a vehicle."""
    return _set_active(vehicle_by_id(vehicle_id), True)


def _set_active(vehicle: Vehicle, active: bool) -> VehicleOut:
    services.set_vehicle_active(db.session, vehicle, active, actor_id=api_actor_id(), now=clock().now())
    api_audit("vehicles.activate" if active else "vehicles.deactivate", {"vehicle_id": vehicle.id})
    return _vehicles_out([vehicle])[0]
