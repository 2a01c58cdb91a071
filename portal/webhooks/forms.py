"""The endpoint form: address, events (checkboxes, usable on a phone), description, and the unit
account threshold for unit_balance.below_threshold (yuan in, fen out)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from portal.cards.forms import MultiCheckboxField
from portal.web.fields import AmountField
from portal.webhooks.addresses import MAX_URL_LENGTH
from portal.webhooks.events import EVENT_TYPES
from portal.webhooks.messages import EVENT_LABELS


class EndpointForm(FlaskForm):
    url = StringField(
        _l("Address (URL)"),
        validators=[DataRequired(_l("Enter the address that receives the events.")), Length(max=MAX_URL_LENGTH)],
        description=_l("An https:// address of your server, e.g. https://erp.example.com/webhooks/fleet"),
        render_kw={"inputmode": "url", "autocomplete": "off"},
    )
    description = StringField(_l("Description"), validators=[Optional(), Length(max=200)])
    events = MultiCheckboxField(
        _l("Events to send"),
        choices=[SelectChoice(name, EVENT_LABELS[name]) for name in EVENT_TYPES],
        validators=[DataRequired(_l("Tick at least one event."))],
    )
    threshold = AmountField(
        _l("Unit account threshold (yuan)"),
        validators=[Optional()],
        description=_l("For “Unit account below threshold”: sent when an allocation takes the balance below this."),
    )
