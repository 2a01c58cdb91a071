from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, SelectField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.web.fields import AmountField, IdempotencyKeyField, LitresField


class LoadForm(FlaskForm):
    #: Idempotency key made when the page was rendered: a double submit requests one load.
    key = IdempotencyKeyField()
    card_id = SelectField(_l("Card"), coerce=int, validators=[DataRequired()])
    amount = AmountField(_l("Amount (yuan)"), validators=[InputRequired()])
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)])


class SyncForm(FlaskForm):
    card_id = IntegerField(validators=[DataRequired()])


class PurchaseForm(FlaskForm):
    """Virtual reader only: what a pump does to a chip offline, for demos and tests."""

    amount = AmountField(_l("Amount (yuan)"), validators=[InputRequired()])
    station_code = SelectField(_l("Station"), validators=[DataRequired()])
    product_code = SelectField(_l("Product"), validators=[DataRequired()])
    litres = LitresField(_l("Litres"), validators=[Optional()], allow_zero=True)
    card_id = IntegerField(validators=[DataRequired(), NumberRange(min=1)])
