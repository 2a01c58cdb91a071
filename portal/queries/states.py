"""Translatable labels of a movement's state (portal.queries.journal.STATES): a two-phase load is one
movement that is waiting, loaded, cancelled or expired."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: The same words as the chip pages' load statuses.
MOVEMENT_STATES = {
    "posted": _l("Posted"),
    "waiting": _l("waiting"),
    "loaded": _l("on the chip"),
    "cancelled": _l("cancelled"),
    "expired": _l("expired"),
}


def state_label(state: str) -> str:
    return str(MOVEMENT_STATES.get(state, state))
