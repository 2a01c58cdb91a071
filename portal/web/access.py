"""Who may see what: role checks for views and blueprints, and the object-level customer check.

The rule every area follows: a user of one customer asking for another customer's object gets 404
(not 403), so object ids cannot be used to probe which objects exist.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import Blueprint, abort
from flask_login import current_user

from portal.extensions import db, login_manager

T = TypeVar("T")


def check_role(*roles: str):
    """None if the current user has one of `roles`; otherwise the response (sign-in redirect) or a 403."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in roles:
        abort(403)
    return None


def role_required(*roles: str) -> Callable:
    """View decorator: signed-in users with one of `roles` only (others 403; anonymous to sign-in)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            refused = check_role(*roles)
            if refused is not None:
                return refused
            return view(*args, **kwargs)

        return wrapped

    return decorator


def restrict_blueprint(bp: Blueprint, *roles: str) -> None:
    """Apply the role check once to every view of `bp`."""
    bp.before_request(lambda: check_role(*roles))


def customer_scope() -> int:
    """The current user's customer id; 403 for users who do not act for a customer (staff, sysadmin)."""
    if not current_user.is_authenticated:
        abort(401)
    customer_id = current_user.user.customer_id
    if customer_id is None:
        abort(403)
    return customer_id


def get_owned_or_404(model: type[T], id: int) -> T:
    """The `model` row with primary key `id` if it belongs to the current user's customer, else 404."""
    obj = db.session.get(model, id)
    if obj is None or obj.customer_id != customer_scope():
        abort(404)
    return obj
