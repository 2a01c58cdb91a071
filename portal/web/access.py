"""Who may see what, for views: one guard per blueprint and one object-level helper.

- Each view declares the permission it needs with `@requires("cards.manage")` (or `PUBLIC`), right
  under its route. `guard(bp)`, called once where the blueprint is created, checks it before every
  view of `bp`: anonymous users go to sign-in, a role without the permission gets 403, a view that
  declares nothing gets 403 (and fails tests/web/test_route_guard.py). Roles map to permissions in
  `portal.auth.permissions`, the one table.
- `owned_or_404(Model, id)` is the object-level check every view uses: the row if the current user
  reaches it (their customer's; a driver's own; staff: their region's), else 404 (not 403), so
  object ids cannot be used to probe which objects exist. `in_scope` is the same without the 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, abort, current_app, request
from flask_login import current_user

from portal.alerts.models import Alert
from portal.auth import permissions
from portal.auth.models import User
from portal.auth.permissions import PUBLIC, Actor, Owner
from portal.cards.models import Card, ControlTemplate, LossReport
from portal.chips.models import LoadRequest
from portal.customers.models import Customer
from portal.drivers.models import Driver, Vehicle
from portal.extensions import db, login_manager
from portal.funds.models import FundsBatch
from portal.points.models import PointsRedemption
from portal.webhooks.models import WebhookEndpoint

T = TypeVar("T")

__all__ = ["PUBLIC", "current_actor", "customer_scope", "guard", "in_scope", "owned_or_404", "requires"]


def requires(permission: str, **by_method: str) -> Callable:
    """Declare the permission a view needs; `POST="..."` etc. for a method that needs another one."""
    for name in (permission, *by_method.values()):
        if name != PUBLIC and name not in permissions.PERMISSIONS:
            raise KeyError(f"unknown permission {name!r}: add it to portal.auth.permissions")
    table = {method.upper(): name for method, name in by_method.items()}

    def declare(view: Callable) -> Callable:
        view.required_permission = lambda method: table.get(method, permission)
        view.declared_permissions = frozenset((permission, *table.values()))
        return view

    return declare


def required_permission(view: Callable | None, method: str) -> str | None:
    """The permission `view` declared for `method`; None if it declared none."""
    lookup = getattr(view, "required_permission", None)
    return lookup(method) if lookup is not None else None


def guard(bp: Blueprint) -> Blueprint:
    """Check every view of `bp` against the permission it declared (the blueprint's one role check)."""
    bp.before_request(check_permission)
    return bp


def check_permission():
    """None if the current user holds the permission the requested view declared; else the sign-in
    redirect (anonymous) or 403."""
    permission = required_permission(current_app.view_functions.get(request.endpoint), request.method)
    if permission is None:
        abort(403)
    if permission == PUBLIC:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not permissions.allows(current_user.role, permission):
        abort(403)
    return None


def current_actor() -> Actor:
    """The signed-in user as the policy sees them (role; customer, driver, region)."""
    user = current_user.user
    return Actor(role=user.role, customer_id=user.customer_id, driver_id=user.driver_id, region_id=user.region_id)


def customer_scope() -> int:
    """The current user's customer id; 403 for users who do not act for a customer (staff, sysadmin)."""
    if not current_user.is_authenticated:
        abort(401)
    customer_id = current_user.user.customer_id
    if customer_id is None:
        abort(403)
    return customer_id


def _card_owner(card_id: int) -> Owner:
    card = db.session.get(Card, card_id)
    return Owner(customer_id=card.customer_id, driver_id=card.driver_id) if card else Owner()


def _user_owner(user: User) -> Owner:
    customer = db.session.get(Customer, user.customer_id) if user.customer_id is not None else None
    # Staff reach the users of their region's customers (not other staff: they have no customer).
    return Owner(customer_id=user.customer_id, driver_id=user.driver_id, region_id=customer and customer.region_id)


#: model -> whose a row of it is. A model not listed here cannot be looked up with `owned_or_404`.
OWNERS: dict[type, Callable[[object], Owner]] = {
    Card: lambda card: Owner(customer_id=card.customer_id, driver_id=card.driver_id),
    LossReport: lambda report: Owner(customer_id=report.customer_id, driver_id=_card_owner(report.card_id).driver_id),
    LoadRequest: lambda load: Owner(customer_id=load.customer_id, driver_id=_card_owner(load.card_id).driver_id),
    ControlTemplate: lambda template: Owner(customer_id=template.customer_id),
    Driver: lambda driver: Owner(customer_id=driver.customer_id, driver_id=driver.id),
    Vehicle: lambda vehicle: Owner(customer_id=vehicle.customer_id),
    FundsBatch: lambda batch: Owner(customer_id=batch.customer_id),
    Alert: lambda alert: Owner(customer_id=alert.customer_id),
    PointsRedemption: lambda redemption: Owner(
        customer_id=redemption.customer_id, driver_id=_card_owner(redemption.card_id).driver_id
    ),
    Customer: lambda customer: Owner(customer_id=customer.id, region_id=customer.region_id),
    WebhookEndpoint: lambda endpoint: Owner(customer_id=endpoint.customer_id),
    User: _user_owner,
}


def in_scope(model: type[T], id, *, lock: bool = False) -> T | None:
    """The `model` row with primary key `id` if the current user reaches it, else None."""
    if id is None or isinstance(id, bool):
        return None
    if isinstance(id, int) and not -(2**63) <= id < 2**63:  # no row has it; SQLite would overflow on it
        return None
    obj = db.session.get(model, id, with_for_update=lock)
    if obj is None or not permissions.reaches(current_actor(), OWNERS[model](obj)):
        return None
    return obj


def owned_or_404(model: type[T], id, *, lock: bool = False) -> T:
    """The `model` row with primary key `id` if the current user reaches it, else 404."""
    obj = in_scope(model, id, lock=lock)
    if obj is None:
        abort(404)
    return obj
