from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.web.fields import AmountField, IdempotencyKeyField


class CsrfForm(FlaskForm):
    """The allocation and collection tables: their many amount fields are read by the view."""


class UploadForm(FlaskForm):
    file = FileField(_l("CSV file (card_number,amount)"), validators=[FileRequired()])


class ConfirmForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)])


class DepositForm(FlaskForm):
    #: Idempotency key made when the form was rendered: a double submit records one deposit.
    key = IdempotencyKeyField()
    customer_id = SelectField(_l("Customer"), coerce=int, validators=[DataRequired()])
    amount = AmountField(_l("Amount (yuan)"), validators=[InputRequired()])
    bank_reference = StringField(_l("Bank transfer reference"), validators=[DataRequired(), Length(max=64)])
    memo = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class DepositConfirmForm(DepositForm):
    """The deposit as previewed (its fields carried hidden, the same key), and the staff member's
    password: nothing is recorded without both."""

    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)])
