from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

#: Letters, digits and . _ - ; not only digits (those would look like a card number).
USERNAME = Regexp(
    r"^(?![0-9]+$)[A-Za-z0-9._-]{3,32}$", message=_l("3-32 letters, digits, '.', '_' or '-'; not only digits.")
)


class SignInForm(FlaskForm):
    region = SelectField(_l("Region"), validators=[Optional()], coerce=str, validate_choice=False)
    username = StringField(_l("User name or main card number"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    captcha = StringField(_l("Characters in the image"), validators=[Optional(), Length(max=16)])


class EmptyForm(FlaskForm):
    """A POST-only button still needs a CSRF token."""


class ConfirmedForm(FlaskForm):
    """The button of a confirmation page: a destructive action acts only when its POST carries
    `confirmed=yes`, which only the page naming what it acts on sends."""

    confirmed = HiddenField()

    @classmethod
    def asking(cls) -> ConfirmedForm:
        """The form the confirmation page shows: its button sends the confirmation."""
        return cls(formdata=None, confirmed="yes")

    def is_confirmed(self) -> bool:
        return self.validate_on_submit() and self.confirmed.data == "yes"


class NewPasswordMixin:
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The two passwords differ."))],
    )


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class RecoverForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    contact = StringField(_l("Registered mobile number or email"), validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(NewPasswordMixin, FlaskForm):
    pass


class RegisterForm(FlaskForm):
    card_number = StringField(
        _l("Main card number"), validators=[DataRequired(), Regexp(r"^[0-9]{16,19}$", message=_l("16 to 19 digits."))]
    )
    credit_code = StringField(
        _l("Unified social credit code"),
        validators=[DataRequired(), Regexp(r"^[0-9A-Za-z]{18}$", message=_l("18 letters or digits."))],
    )
    contact = StringField(_l("Mobile number or email on file"), validators=[DataRequired(), Length(max=254)])


class RegisterAccountForm(NewPasswordMixin, FlaskForm):
    code = StringField(
        _l("6-digit code"), validators=[DataRequired(), Regexp(r"^\s*[0-9]{6}\s*$", message=_l("6 digits."))]
    )
    username = StringField(_l("User name"), validators=[DataRequired(), USERNAME])
