"""The cards blueprint, and what its three view modules share.

Routes: views.py (card list, assignment, a driver's own cards), control_views.py (controls and
templates), loss_views.py (loss reports, cancel, replace). Each adds its views to `bp`; the app
imports all three (portal.app.VIEW_MODULES). Every view declares its permission
(`portal.web.access.requires`); every card is looked up with `owned_or_404`.
"""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from portal.web.access import guard

bp = guard(Blueprint("cards", __name__, url_prefix="/cards"))


def actor_id() -> int:
    return current_user.user.id
