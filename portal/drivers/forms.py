from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from portal.drivers.validation import MAX_TANK_ML, plate_class
from portal.web.fields import LitresField


class DriverForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)], render_kw={"inputmode": "tel"})
    employee_no = StringField(_l("Employee number"), validators=[Optional(), Length(max=32)])
    licence_no = StringField(_l("Driving licence number"), validators=[Optional(), Length(max=32)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=256)])


class NewDriverForm(DriverForm):
    username = StringField(
        _l("User name for the driver's sign-in"),
        validators=[DataRequired(), Length(min=3, max=64)],
        description=_l("Letters, digits and . _ - @. The initial password is shown once after saving."),
    )


def licence_plate(form, field) -> None:
    """A mainland plate (portal.drivers.validation), said in words the admin can act on."""
    if field.data and plate_class(field.data) is None:
        raise ValidationError(
            _l(
                "Enter a licence plate: province, letter and 5 letters or digits (e.g. 京A12345), "
                "or 8 characters with D or F for a new-energy vehicle (e.g. 京AD12345)."
            )
        )


class VehicleForm(FlaskForm):
    plate = StringField(
        _l("Plate"), validators=[DataRequired(), Length(max=16), licence_plate], description=_l("e.g. 京A12345")
    )
    # InputRequired, not DataRequired: DataRequired would replace "cannot be negative" by "required".
    tank = LitresField(_l("Tank capacity (litres)"), validators=[InputRequired()], max_ml=MAX_TANK_ML)
    model = StringField(_l("Make and model"), validators=[Optional(), Length(max=64)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=256)])


class DriverLoginForm(FlaskForm):
    username = StringField(
        _l("User name for the driver's sign-in"),
        validators=[DataRequired(), Length(min=3, max=64)],
        description=_l("Letters, digits and . _ - @. The initial password is shown once after saving."),
    )
