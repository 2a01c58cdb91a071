"""The API key pages' forms and the words they show for scopes, states and refusals."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.apikeys.services import MAX_NAME_LENGTH
from portal.cards.forms import MultiCheckboxField

#: scope -> what the admin reads next to its checkbox (portal.apikeys.services.SCOPES says the same in English).
SCOPE_LABELS = {
    "read": _l("Read: cards, balances, transactions, statements, alerts (every query)"),
    "cards": _l("Cards: controls, templates, report lost, cancel, replace"),
    "drivers": _l("Drivers and vehicles: create and change"),
    "funds": _l("Funds: allocate, collect, chip loads"),
    "points": _l("Points: redeem"),
    "alerts": _l("Alerts: acknowledge"),
    "webhooks": _l("Webhooks: manage endpoints"),
}
#: scope -> its short name in the key list.
SCOPE_NAMES = {
    "read": _l("Read"),
    "cards": _l("Cards"),
    "drivers": _l("Drivers and vehicles"),
    "funds": _l("Funds"),
    "points": _l("Points"),
    "alerts": _l("Alerts"),
    "webhooks": _l("Webhooks"),
}
STATE_LABELS = {"active": _l("Active"), "expired": _l("Expired"), "revoked": _l("Revoked")}
#: ApiKeyError code -> (field, message).
ERRORS = {
    "bad_name": ("name", _l("Give the key a name of 1 to 64 characters.")),
    "bad_scopes": ("scopes", _l("Tick at least one permission.")),
    "bad_expiry": ("expires_on", _l("The expiry date must be from today to three years ahead.")),
    "bad_network": ("networks", _l("Each line must be an IP address or a network such as 203.0.113.0/24.")),
    "too_many_networks": ("networks", _l("At most 20 addresses or networks.")),
}


class ScopesField(MultiCheckboxField):
    """The permissions' checkboxes, refusing any value that is not one of them in the page's words."""

    def pre_validate(self, form) -> None:
        if set(self.data or ()) - set(SCOPE_LABELS):
            raise ValidationError(_l("Choose only the permissions listed."))


class ApiKeyForm(FlaskForm):
    name = StringField(
        _l("Key name"),
        validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)],
        description=_l("Who uses it, e.g. ERP or telematics; shown in the activity log for every action."),
    )
    scopes = ScopesField(
        _l("Permissions"),
        choices=[SelectChoice(scope, label) for scope, label in SCOPE_LABELS.items()],
        validators=[DataRequired(message=_l("Tick at least one permission."))],
    )
    expires_on = DateField(
        _l("Valid until (optional)"),
        validators=[Optional()],
        description=_l("The key stops working after this day (Beijing time). Empty: until revoked."),
    )
    networks = TextAreaField(
        _l("Allowed addresses (optional)"),
        validators=[Optional(), Length(max=2000)],
        description=_l("One IP address or network per line, e.g. 203.0.113.0/24. Empty: any address."),
    )
