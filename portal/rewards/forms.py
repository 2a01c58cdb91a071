from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField
from wtforms.validators import InputRequired, NumberRange, ValidationError

from portal.web.fields import WholeNumberField


def _uuid(form, field) -> None:
    try:
        field.data = uuid.UUID(field.data or "").hex
    except ValueError:
        raise ValidationError(_l("This form has expired; please start again.")) from None


class RedeemForm(FlaskForm):
    #: Idempotency key made when the form is first shown: however often the confirmation is
    #: submitted (double click, browser retry), the points are redeemed once.
    key = HiddenField(validators=[_uuid])
    card_id = SelectField(_l("Card"), coerce=int, validate_choice=False, validators=[InputRequired()])
    points = WholeNumberField(
        _l("Points to redeem"),
        validators=[
            InputRequired(message=_l("Enter the number of points.")),
            NumberRange(min=1, max=10**9, message=_l("Enter a positive whole number of points.")),
        ],
        render_kw={"inputmode": "numeric"},
    )

    @staticmethod
    def new_key() -> str:
        return uuid.uuid4().hex


class ConfirmForm(FlaskForm):
    """The confirmation: the same values, carried as hidden fields, and the button."""

    key = HiddenField(validators=[_uuid])
    card_id = HiddenField()
    points = HiddenField()
