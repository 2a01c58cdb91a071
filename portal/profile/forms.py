from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

PHONE = Regexp(r"^[0-9+\-() ]*$", message=_l("Digits, spaces and + - ( ) only."))
#: Shape only (no email_validator dependency): something@domain.tld without spaces.
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter an email address like name@example.com."))


class ProfileForm(FlaskForm):
    contact_name = StringField(_l("Contact person"), validators=[Optional(), Length(max=64)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32), PHONE], render_kw={"inputmode": "tel"})
    mobile = StringField(_l("Mobile"), validators=[Optional(), Length(max=32), PHONE], render_kw={"inputmode": "tel"})
    email = EmailField(_l("Email"), validators=[Optional(), Length(max=254), EMAIL])
    finance_contact_name = StringField(_l("Finance contact"), validators=[Optional(), Length(max=64)])
    finance_phone = StringField(_l("Finance phone"), validators=[Optional(), Length(max=32), PHONE])
    finance_email = EmailField(_l("Finance email"), validators=[Optional(), Length(max=254), EMAIL])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=256)])
    postcode = StringField(_l("Postcode"), validators=[Optional(), Regexp(r"^\d{6}$", message=_l("Six digits."))])
    invoice_title = StringField(_l("Invoice title"), validators=[Optional(), Length(max=128)])
    invoice_tax_number = StringField(_l("Taxpayer number"), validators=[Optional(), Length(max=32)])
    invoice_address = StringField(_l("Invoice address"), validators=[Optional(), Length(max=256)])
    invoice_phone = StringField(_l("Invoice phone"), validators=[Optional(), Length(max=32), PHONE])
    invoice_bank = StringField(_l("Bank"), validators=[Optional(), Length(max=128)])
    invoice_bank_account = StringField(_l("Bank account"), validators=[Optional(), Length(max=64)])


class StaffProfileForm(ProfileForm):
    name = StringField(_l("Legal name"), validators=[DataRequired(), Length(max=128)])
    credit_code = StringField(_l("Unified social credit code"), validators=[DataRequired(), Length(min=18, max=18)])
