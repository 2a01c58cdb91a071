"""AmountField and LitresField: integer data, translated refusals, re-shown input, inputmode."""

from __future__ import annotations

import pytest
from flask_wtf import FlaskForm
from wtforms.validators import Optional

from portal.web.fields import AmountField, LitresField, WholeNumberField


class _Form(FlaskForm):
    class Meta:
        csrf = False

    amount = AmountField("Amount")
    small = AmountField("Small", max_fen=50_000)
    fee = AmountField("Fee", validators=[Optional()], allow_zero=True)
    litres = LitresField("Litres", validators=[Optional()])


def _submit(app, lang="en", **data):
    headers = {"Cookie": f"lang={lang}"} if lang else {}
    with app.test_request_context("/", method="POST", data=data, headers=headers):
        form = _Form()
        valid = form.validate()
        return valid, form, {name: list(field.errors) for name, field in form._fields.items() if field.errors}


def test_valid_input_becomes_integers(app):
    valid, form, errors = _submit(app, amount="¥1,234.56", small="500", fee="0", litres="45.5")
    assert valid, errors
    assert form.amount.data == 123456 and type(form.amount.data) is int
    assert form.small.data == 50_000
    assert form.fee.data == 0
    assert form.litres.data == 45_500


def test_optional_fields_may_be_blank(app):
    valid, form, errors = _submit(app, amount="1", small="1", fee="", litres=" ")
    assert valid, errors
    assert form.fee.data is None and form.litres.data is None


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter an amount."),
        ("12.345", "An amount has at most two decimal places (fen)."),
        ("-5", "The amount cannot be negative."),
        ("0", "The amount must be more than zero."),
        ("1e5", "Enter the amount as a number, like 1234.56."),
        ("1,23.4", "Thousands separators go every three digits"),
        ("100000001", "The amount can be at most ¥100,000,000.00."),
    ],
)
def test_refusals_explain_themselves(app, typed, message):
    valid, form, errors = _submit(app, amount=typed, small="1")
    assert not valid
    assert form.amount.data is None
    assert len(errors["amount"]) == 1
    assert errors["amount"][0].startswith(message)


def test_field_ceiling_is_shown_in_the_message(app):
    valid, _, errors = _submit(app, amount="1", small="500.01")
    assert not valid
    assert errors["small"] == ["The amount can be at most ¥500.00."]


def test_litres_refusal(app):
    valid, _, errors = _submit(app, amount="1", small="1", litres="45.123")
    assert not valid
    assert errors["litres"] == ["A volume has at most two decimal places."]
    valid, _, errors = _submit(app, amount="1", small="1", litres="200000")
    assert errors["litres"] == ["The volume can be at most 100,000.00 L."]


def test_messages_are_translated(app):
    valid, _, errors = _submit(app, lang=None, amount="-5", small="1")  # default language: zh_CN
    assert not valid
    assert errors["amount"] == ["金额不能为负数。"]


def test_rendering_keeps_what_was_typed_and_asks_for_a_decimal_keypad(app):
    valid, form, _ = _submit(app, amount="12.345", small="1")
    assert not valid
    with app.test_request_context("/"):
        html = str(form.amount())
    assert 'inputmode="decimal"' in html
    assert 'value="12.345"' in html


def test_rendering_existing_data_in_plain_form(app):
    with app.test_request_context("/"):
        form = _Form(data={"amount": 123456, "litres": 45_500})
        assert 'value="1234.56"' in str(form.amount())
        assert 'value="45.50"' in str(form.litres())
        assert 'value=""' in str(form.fee())


class _CountForm(FlaskForm):
    class Meta:
        csrf = False

    count = WholeNumberField("Count", validators=[Optional()])


@pytest.mark.parametrize("text, value", [("12", 12), ("１２", 12), (" 7 ", 7), ("", None)])
def test_whole_numbers_read_ascii_and_full_width_digits(app, text, value):
    with app.test_request_context("/", method="POST", data={"count": text}):
        form = _CountForm()
        assert form.validate(), form.count.errors
        assert form.count.data == value


@pytest.mark.parametrize("text", ["١٢", "१२", "①", "10²", "1_000", "12.0", "1e3"])
def test_whole_numbers_refuse_other_digits_and_look_alikes(app, text):
    with app.test_request_context("/", method="POST", data={"count": text}):
        form = _CountForm()
        assert not form.validate()
        assert form.count.data is None and form.count.errors


@pytest.mark.parametrize("text", ["10²", "①", "１０²"])
def test_money_and_litres_fields_refuse_look_alike_digits(app, text):
    valid, form, errors = _submit(app, amount=text, small="1", litres=text)
    assert not valid
    assert form.amount.data is None and "amount" in errors
    assert form.litres.data is None and "litres" in errors
