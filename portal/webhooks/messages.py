"""What the webhook pages say about event types, statuses and failures, in the reader's language."""

from __future__ import annotations

from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

EVENT_LABELS = {
    "purchase.approved": _l("Purchase approved"),
    "purchase.declined": _l("Purchase declined"),
    "purchase.refunded": _l("Purchase refunded"),
    "card.reported_lost": _l("Card reported lost"),
    "card.loss_effective": _l("Card loss in full effect"),
    "card.replaced": _l("Card replaced"),
    "load.waiting": _l("Chip load waiting to be written"),
    "load.written": _l("Chip load written"),
    "load.expired": _l("Chip load expired"),
    "unit_balance.below_threshold": _l("Unit account below threshold"),
    "allocation.confirmed": _l("Allocation confirmed"),
    "collection.confirmed": _l("Collection confirmed"),
    "alert.raised": _l("Anomaly alert raised"),
    "webhook.test": _l("Test event"),
}

STATUS_LABELS = {
    "pending": _l("Waiting"),
    "delivered": _l("Delivered"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
}

DISABLED_LABELS = {
    "admin": _l("Disabled by an administrator"),
    "failing": _l("Disabled automatically: every delivery failed for a day"),
}

URL_PROBLEMS = {
    "malformed": _l("Enter a full address such as https://example.com/webhooks."),
    "scheme": _l("The address must start with https://."),
    "credentials": _l("The address must not contain a user name or password."),
    "unresolvable": _l("The host name could not be resolved."),
    "private": _l("The address points to a private, loopback or link-local network; use a public address."),
}


def event_list(names) -> str:
    """Event types' labels as a list in the reader's language ("A, B and C" / "A、B和C")."""
    return format_list([str(EVENT_LABELS.get(name, name)) for name in names], locale=get_locale() or "zh_CN")
