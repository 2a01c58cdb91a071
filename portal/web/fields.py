"""Form fields for numbers people type: yuan and litres (services receive integer fen and ml), and
whole numbers (`WholeNumberField`: counts, points); and the idempotency key a page carries
(`IdempotencyKeyField`).

`AmountField` and `LitresField` parse with `portal.money`, so a form's `.data` is an `int` (or None
when the input was refused) and never a float. A refused input becomes a translated message chosen by
the parser's stable error code. Blank input is an error too ("Enter an amount."); put `Optional()`
first in the validators of a field that may be left empty.
"""

from __future__ import annotations

import re
import uuid

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from wtforms import Field, HiddenField, IntegerField
from wtforms.widgets import TextInput

from portal.money import (
    MAX_FEN,
    MAX_ML,
    AmountError,
    fold_full_width,
    format_fen,
    format_fen_plain,
    format_litres,
    format_litres_plain,
    parse_amount,
    parse_litres,
)

_AMOUNT_MESSAGES = {
    "empty": _l("Enter an amount."),
    "not_a_number": _l("Enter the amount as a number, like 1234.56."),
    "negative": _l("The amount cannot be negative."),
    "zero": _l("The amount must be more than zero."),
    "too_many_decimals": _l("An amount has at most two decimal places (fen)."),
    "bad_grouping": _l("Thousands separators go every three digits, like 1,234.56."),
    "too_large": _l("The amount can be at most %(maximum)s."),
}

_LITRES_MESSAGES = {
    "empty": _l("Enter a volume in litres."),
    "not_a_number": _l("Enter the volume as a number of litres, like 45.5."),
    "negative": _l("The volume cannot be negative."),
    "zero": _l("The volume must be more than zero."),
    "too_many_decimals": _l("A volume has at most two decimal places."),
    "bad_grouping": _l("Thousands separators go every three digits, like 1,200.5."),
    "too_large": _l("The volume can be at most %(maximum)s."),
}


class _IntegerUnitField(Field):
    """A text input whose data is an integer in the smallest unit, parsed by `portal.money`."""

    widget = TextInput()
    _messages: dict = {}

    def __init__(self, label=None, validators=None, *, allow_zero: bool = False, **kwargs):
        render_kw = {"inputmode": "decimal", "autocomplete": "off", **(kwargs.pop("render_kw", None) or {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.allow_zero = allow_zero

    def _parse(self, text: str) -> int:  # pragma: no cover - subclasses define it
        raise NotImplementedError

    def _format_maximum(self, maximum: int, locale: str) -> str:  # pragma: no cover
        raise NotImplementedError

    def _format_plain(self, value: int) -> str:  # pragma: no cover
        raise NotImplementedError

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = self._parse(valuelist[0])
        except AmountError as error:
            self.data = None
            message = self._messages.get(error.code, self._messages["not_a_number"])
            if "maximum" in error.params:
                message = message % {"maximum": self._format_maximum(error.params["maximum"], str(get_locale()))}
            # WTForms turns a ValueError here into a field error; str() resolves the lazy string.
            raise ValueError(str(message)) from None

    def _value(self) -> str:
        # Re-show what the person typed after an error; otherwise the canonical plain form.
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return self._format_plain(self.data)


class AmountField(_IntegerUnitField):
    """Yuan in, integer fen out: `1,234.56` -> 123456. `max_fen` defaults to 100 million yuan."""

    _messages = _AMOUNT_MESSAGES

    def __init__(self, label=None, validators=None, *, allow_zero: bool = False, max_fen: int = MAX_FEN, **kwargs):
        super().__init__(label, validators, allow_zero=allow_zero, **kwargs)
        self.max_fen = max_fen

    def _parse(self, text: str) -> int:
        return parse_amount(text, allow_zero=self.allow_zero, max_fen=self.max_fen)

    def _format_maximum(self, maximum: int, locale: str) -> str:
        return format_fen(maximum, locale)

    def _format_plain(self, value: int) -> str:
        return format_fen_plain(value)


class LitresField(_IntegerUnitField):
    """Litres in, integer millilitres out: `45.5` -> 45500 (two decimals at most)."""

    _messages = _LITRES_MESSAGES

    def __init__(self, label=None, validators=None, *, allow_zero: bool = False, max_ml: int = MAX_ML, **kwargs):
        super().__init__(label, validators, allow_zero=allow_zero, **kwargs)
        self.max_ml = max_ml

    def _parse(self, text: str) -> int:
        return parse_litres(text, allow_zero=self.allow_zero, max_ml=self.max_ml)

    def _format_maximum(self, maximum: int, locale: str) -> str:
        return format_litres(maximum, locale)

    def _format_plain(self, value: int) -> str:
        return format_litres_plain(value)


#: A whole number as people type it, after full-width folding: an optional sign, ASCII digits.
_WHOLE = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)


class WholeNumberField(IntegerField):
    """An IntegerField that reads ASCII and full-width digits only. (int() alone also reads other
    scripts' digits, such as ١٢; look-alikes such as ² or ① are refused like any other text.)"""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        text = fold_full_width(valuelist[0]).strip()
        if not _WHOLE.fullmatch(text):
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value."))
        self.data = int(text)


class IdempotencyKeyField(HiddenField):
    """The key made when the page was rendered (a UUID, kept as 32 hex digits): however often the
    form is sent, the action happens once. Empty data when none was sent (the view makes one);
    anything else the page did not make is refused: it would reach the ledger as a transfer id."""

    def process_formdata(self, valuelist):
        self.data = ""
        text = valuelist[0].strip() if valuelist else ""
        if not text:
            return
        try:
            self.data = uuid.UUID(text).hex
        except ValueError:
            raise ValueError(str(_l("This form has expired; please start again."))) from None
