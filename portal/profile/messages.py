"""What the activity log calls each recorded action (audit action names are stable codes)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ACTION_LABELS = {
    # sign-in and accounts
    "auth.register": _l("Online access registered"),
    "auth.registration_started": _l("Registration started"),
    "auth.sign_in": _l("Signed in"),
    "auth.sign_in_failed": _l("Sign-in failed"),
    "auth.locked": _l("Account locked after failed sign-ins"),
    "auth.locked_in_session": _l("Account locked after wrong passwords in a signed-in session"),
    "auth.password_changed": _l("Password changed"),
    "auth.recovery_requested": _l("Password recovery requested"),
    "auth.recovery_limited": _l("Password recovery refused: too many links sent lately"),
    "auth.registration_limited": _l("Registration code refused: too many codes sent lately"),
    "auth.password_recovered": _l("Password reset by recovery"),
    "auth.recovery_refused": _l("Password recovery refused"),
    "auth.registration_refused": _l("Registration refused"),
    "auth.sign_in_locked": _l("Sign-in refused: account locked"),
    "auth.sign_out": _l("Signed out"),
    # support staff
    "support.reset_password": _l("Password reset by support staff (temporary password)"),
    "support.send_reset_link": _l("Reset link sent by support staff"),
    "support.unlock": _l("Account unlocked by support staff"),
    # customer profile
    "profile.update": _l("Customer profile changed"),
    "profile.staff_update": _l("Customer profile changed by support staff"),
    # cards
    "cards.report_loss": _l("Card reported lost"),
    "cards.cancel_loss": _l("Loss report cancelled"),
    "cards.replace": _l("Card replaced"),
    "cards.assign": _l("Card assigned"),
    "cards.set_controls": _l("Card limits changed"),
    "cards.save_template": _l("Limit template saved"),
    "cards.delete_template": _l("Limit template deleted"),
    # money
    "funds.deposit": _l("Deposit recorded"),
    "funds.allocation": _l("Allocated to sub-cards"),
    "funds.collection": _l("Collected to the unit account"),
    "chips.load_requested": _l("Load onto chip requested"),
    "chips.load_cancelled": _l("Load onto chip cancelled"),
    "chips.sync": _l("Card synced"),
    # drivers and vehicles
    "drivers.add": _l("Driver added"),
    "drivers.update": _l("Driver changed"),
    "drivers.activate": _l("Driver reactivated"),
    "drivers.deactivate": _l("Driver deactivated"),
    "drivers.create_login": _l("Driver login created"),
    "drivers.reset_password": _l("Driver password reset"),
    "vehicles.add": _l("Vehicle added"),
    "vehicles.update": _l("Vehicle changed"),
    "vehicles.activate": _l("Vehicle reactivated"),
    "vehicles.deactivate": _l("Vehicle deactivated"),
    "alert.acknowledge": _l("Alert acknowledged"),
    # terminals
    "terminal.create": _l("Terminal created"),
    "terminal.revoke": _l("Terminal revoked"),
    # points
    "points.redeem": _l("Points redeemed"),
    # webhooks
    "webhooks.create": _l("Webhook endpoint added"),
    "webhooks.update": _l("Webhook endpoint changed"),
    "webhooks.enable": _l("Webhook endpoint enabled"),
    "webhooks.disable": _l("Webhook endpoint disabled"),
    "webhooks.delete": _l("Webhook endpoint deleted"),
    "webhooks.rotate_secret": _l("Webhook signing secret replaced"),
    "webhooks.test": _l("Webhook test event sent"),
    "webhooks.redeliver": _l("Webhook event sent again"),
    "webhooks.auto_disable": _l("Webhook endpoint disabled automatically (every delivery failed for a day)"),
    # the customer API
    "apikeys.create": _l("API key created"),
    "apikeys.revoke": _l("API key revoked"),
}


def action_label(action: str) -> str:
    """The translated label of an action; an action without one yet reads "Other action" (never its
    code: codes are English)."""
    return str(ACTION_LABELS.get(action, _l("Other action")))
