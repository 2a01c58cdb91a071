from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from portal.cards.controls import MAX_ALLOWED_STATIONS, parse_hours
from portal.web.fields import AmountField, LitresField, WholeNumberField


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (usable on a phone, unlike a multiple <select>)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


LOSS_REASON_CHOICES = [
    SelectChoice("lost", _l("Lost")),
    SelectChoice("stolen", _l("Stolen")),
    SelectChoice("damaged", _l("Damaged")),
    SelectChoice("other", _l("Other")),
]


class ReportLossForm(FlaskForm):
    card_id = SelectField(_l("Card"), coerce=int, validators=[DataRequired()])
    reason = SelectField(_l("Reason"), choices=LOSS_REASON_CHOICES, validators=[DataRequired()])
    note = TextAreaField(_l("Details (optional)"), validators=[Optional(), Length(max=256)])


class ReplaceCardForm(FlaskForm):
    #: Generated when the form is shown; a resubmitted form carries the same key (no double issue).
    idempotency_key = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])


class AssignCardForm(FlaskForm):
    nickname = StringField(_l("Nickname"), validators=[Optional(), Length(max=64)])
    driver_id = SelectField(_l("Driver"), coerce=int)
    vehicle_id = SelectField(_l("Vehicle"), coerce=int)


class ControlsForm(FlaskForm):
    per_purchase_limit = AmountField(_l("Amount per purchase at most (yuan)"), validators=[Optional()])
    daily_amount_limit = AmountField(_l("Amount per day at most (yuan)"), validators=[Optional()])
    daily_count_limit = WholeNumberField(
        _l("Purchases per day at most"),
        validators=[Optional(), NumberRange(min=1, max=1000)],
        render_kw={"inputmode": "numeric"},
    )
    daily_litres_limit = LitresField(_l("Litres per day at most"), validators=[Optional()])
    allowed_products = MultiCheckboxField(_l("Allowed products (none ticked: any)"))
    allowed_region_ids = MultiCheckboxField(_l("Allowed regions (none ticked: any)"), coerce=int)
    allowed_station_ids = MultiCheckboxField(
        _l("Allowed stations, at most %(n)d (none ticked: any)", n=MAX_ALLOWED_STATIONS), coerce=int
    )
    plate_lock = StringField(
        _l("Only for plate"),
        validators=[Optional(), Length(max=16)],
        description=_l("e.g. 京A12345; leave empty for any vehicle"),
    )
    hours = StringField(
        _l("Allowed hours"),
        validators=[Optional(), Length(max=20)],
        description=_l("Beijing time, e.g. 06:00-22:00; leave empty for any time"),
    )

    def validate_allowed_station_ids(self, field):
        if field.data and len(field.data) > MAX_ALLOWED_STATIONS:
            raise ValidationError(_l("Choose at most %(n)d stations.", n=MAX_ALLOWED_STATIONS))

    def validate_hours(self, field):
        try:
            parse_hours(field.data or "")
        except ValueError:
            raise ValidationError(_l("Write the hours like 06:00-22:00.")) from None


class TemplateForm(ControlsForm):
    name = StringField(_l("Template name"), validators=[DataRequired(), Length(max=64)])


class ApplyTemplateForm(FlaskForm):
    card_ids = MultiCheckboxField(_l("Cards"), coerce=int, validators=[DataRequired(_l("Tick at least one card."))])
