"""Helpers of the customer API tests: keys made through the service, requests with a bearer key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from portal.apikeys.services import SCOPES
from tests.web.api_money_support import sample as money_sample

ALL_SCOPES = tuple(SCOPES)


def make_key(app, customer_id: int, scopes=ALL_SCOPES, *, name: str = "ERP", **fields) -> str:
    """A new key of `customer_id` with `scopes`, committed; its token."""
    from portal.apikeys import services
    from portal.extensions import clock, db

    with app.app_context():
        _key, token = services.create_key(
            db.session, customer_id=customer_id, name=name, scopes=list(scopes), actor_id=None,
            now=clock().now(), **fields,
        )  # fmt: skip
        db.session.commit()
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class ApiWorld:
    """The showcase world with a key of each customer holding every scope."""

    customer_id: int
    other_customer_id: int
    token: str
    other_token: str
    world: object


def build_api_world(app, showcase_world) -> ApiWorld:
    return ApiWorld(
        customer_id=showcase_world.customer_id,
        other_customer_id=showcase_world.other_customer_id,
        token=make_key(app, showcase_world.customer_id),
        other_token=make_key(app, showcase_world.other_customer_id, name="Other ERP"),
        world=showcase_world,
    )


def revoke(app, token: str, now: datetime) -> None:
    from portal.apikeys import services
    from portal.extensions import db

    with app.app_context():
        key = services.key_for_token(db.session, token)
        services.revoke_key(db.session, key, actor_id=None, now=now)
        db.session.commit()


class ProbeIn(BaseModel):
    amount_fen: int = Field(ge=1, le=10**12)
    refuse: bool = False
    memo: str = Field("", max_length=64)


class ProbeOut(BaseModel):
    event_id: int
    amount_fen: int
    service_key: str


def add_probe_endpoints(app) -> None:
    """Register, on `app` only, test endpoints under /api/v1/probe that exercise the machinery the
    foundation has no endpoint of its own for yet: an idempotent write that can be refused, and a bug."""
    from flask import Blueprint

    from portal.api.auth import api_audit, api_endpoint, owned_or_404
    from portal.api.idempotency import service_key
    from portal.extensions import csrf, db
    from portal.ledger.errors import InsufficientFunds

    bp = Blueprint("api_probe", __name__, url_prefix="/api/v1/probe")
    csrf.exempt(bp)

    @bp.post("/moves")
    @api_endpoint("funds", json=ProbeIn, resp={201: ProbeOut}, idempotent=True)
    def moves(json: ProbeIn):
        """A money movement: an audit event, or a refusal after writing one (undone)."""
        event = api_audit("probe.move", {"amount": json.amount_fen})
        db.session.flush()
        if json.refuse:
            raise InsufficientFunds("not enough money", account_id=1, available=0, amount=json.amount_fen)
        return ProbeOut(event_id=event.id, amount_fen=json.amount_fen, service_key=service_key()), 201

    @bp.get("/bug")
    @api_endpoint("read")
    def bug():
        """A view with a bug."""
        raise RuntimeError("secret internal detail")

    @bp.get("/keys/<int:key_id>")
    @api_endpoint("read")
    def key(key_id: int):
        """An object of the key's customer, by id (another customer's: 404)."""
        from portal.apikeys.models import ApiKey

        return {"name": owned_or_404(ApiKey, key_id, "key_not_found", "key").name}

    @bp.get("/export")
    @api_endpoint("read", resp={200: None}, produces={200: "text/csv"})
    def export():
        """A download: CSV made by a generator, answered whole."""
        from flask import Response

        return Response((f"{n},{n * 100}\n" for n in range(3)), mimetype="text/csv")

    @bp.get("/busy")
    @api_endpoint("read")
    def busy():
        """The database gave up waiting (SQLite's "database is locked")."""
        import sqlite3

        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))

    app.register_blueprint(bp)


#: A value of each path parameter of the API's routes that names an object of the showcase
#: customer (shunda), from the committed world: `sample(session, world)`. A new route with a new
#: parameter adds its sample here; tests/web/test_api_guard.py fails until it does.
PATH_SAMPLES = {
    "card_number": lambda session, world: "9030000100000110",
    "driver_id": lambda session, world: world.driver_id,
    "vehicle_id": lambda session, world: _first_vehicle_id(session, world),
    "template_id": lambda session, world: _sample_template_id(session, world),
}
# the money areas' objects (funds, loads, points, alerts), made through their services
PATH_SAMPLES |= {
    name: money_sample(name) for name in ("batch_id", "deposit_id", "load_id", "alert_id", "redemption_id")
}


def _first_vehicle_id(session, world) -> int:
    from sqlalchemy import select

    from portal.drivers.models import Vehicle

    return session.scalar(select(Vehicle.id).where(Vehicle.customer_id == world.customer_id).order_by(Vehicle.id))


def _sample_template_id(session, world) -> int:
    """A control template of the showcase customer (the showcase has none: made once, committed)."""
    from sqlalchemy import select

    from portal.cards import services
    from portal.cards.controls import Controls
    from portal.cards.models import ControlTemplate
    from portal.extensions import clock

    found = session.scalar(select(ControlTemplate.id).where(ControlTemplate.customer_id == world.customer_id))
    if found is None:
        template = services.save_template(
            session, world.customer_id, "夜班", Controls(daily_count_limit=3), actor_id=None, now=clock().now()
        )
        session.commit()
        found = template.id
    return found


def path_samples(app, world) -> dict[str, str]:
    from portal.extensions import db

    with app.app_context():
        return {name: str(sample(db.session, world)) for name, sample in PATH_SAMPLES.items()}


def api_routes(app):
    """(endpoint, rule, method, view) of every route of the customer API blueprint."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule.endpoint, rule, method, app.view_functions[rule.endpoint]


def fill(rule, samples: dict[str, str]) -> str:
    """The rule's URL with its parameters filled from `samples`."""
    missing = set(rule.arguments) - set(samples)
    assert not missing, f"add samples for {sorted(missing)} ({rule.rule}) to tests/web/api_support.py PATH_SAMPLES"
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:[^>:]+:)?{name}>", samples[name], url)
    return url
