"""Money and litres as integers: parsing what people type, formatting what they read.

Money is integer fen (1 yuan = 100 fen) and volume is integer millilitres, everywhere: the database,
the ledger, the services. Only the edges turn them into text and back, and they do it with string
logic, never a float, so "0.1 + 0.2" can never cost anyone a fen. Pure Python: no Flask, no Babel.

Parse errors carry a stable `code` (the web layer translates by code) and an English message.
"""

from __future__ import annotations

import re

#: Default ceiling for one amount: 100 million yuan. Forms may pass a smaller one.
MAX_FEN = 10_000_000_000
#: Default ceiling for one volume: 100,000 litres (a large tanker is ~40,000).
MAX_ML = 100_000_000
#: Inputs longer than this are refused before any other work (no regex over megabytes).
_MAX_INPUT_CHARS = 64

#: Full-width forms (U+FF01-U+FF5E: １２３，．ＲＭＢ) and the ideographic space fold to ASCII, the
#: full-width yen sign to ¥, the half-width ideographic full stop ｡ to a point. Nothing else is
#: folded: NFKC would also read look-alike digits (superscript 10², circled ①, mathematical 𝟏) as
#: digits, and "10²" would become ¥102.00.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0xFFE5: 0xA5, 0xFF61: 0x2E}

#: Currency marks accepted around an amount (after folding, ￥ is ¥).
_PREFIXES = ("cn¥", "rmb", "cny", "¥")
_SUFFIXES = ("元", "rmb", "cny")
_LITRE_SUFFIXES = ("升", "l")
_A = {"amount": "an", "volume": "a"}

#: Digits with optional thousands separators in the right places, then an optional fraction.
#: ASCII only: `\d` alone would also match other scripts' digits, which int() happily reads.
_NUMBER = re.compile(r"(?P<int>\d{1,3}(?:,\d{3})+|\d*)(?:\.(?P<frac>\d*))?", re.ASCII)


class AmountError(ValueError):
    """Input that is not an acceptable amount. `code` is stable; `message` is English."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(message)
        self.code = code
        self.message = message
        #: Values the message refers to (e.g. `max_fen`), for translated messages.
        self.params = params


def fold_full_width(text: str) -> str:
    """Full-width forms to ASCII (１２３ -> 123), the only folding a typed number gets (see `_FOLD`)."""
    return text.translate(_FOLD)


def _normalise(text: str) -> str:
    """Fold full-width characters (１２３４，５６) to ASCII, drop surrounding spaces, lower-case.
    Only ASCII and full-width digits are digits; any other character that looks like one is refused."""
    if not isinstance(text, str):
        raise AmountError("not_a_number", "Enter a number.")
    if len(text) > _MAX_INPUT_CHARS:
        raise AmountError("too_large", "The number is far too long.")
    text = fold_full_width(text)
    # Chinese input methods type 。 for a full stop; in a number it can only be the decimal point.
    return text.replace("。", ".").strip().lower()


def _strip_marks(text: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if text.startswith(prefix):
            text = text[len(prefix) :].lstrip()
            break
    for suffix in suffixes:
        if text.endswith(suffix):
            text = text[: -len(suffix)].rstrip()
            break
    return text


def _parse_scaled(text: str, *, places: int, allow_zero: bool, maximum: int, what: str) -> int:
    """Shared parser: a non-negative decimal with at most `places` decimals, times 10**places."""
    if text == "":
        raise AmountError("empty", f"Enter {_A[what]} {what}.")
    if text.startswith("-") or text.startswith("−"):
        raise AmountError("negative", f"The {what} cannot be negative.")
    if text.startswith("+"):
        text = text[1:]
    match = _NUMBER.fullmatch(text)
    if match is None or (match["int"] == "" and not match["frac"]):
        if "," in text and re.fullmatch(r"[\d,]*(?:\.\d*)?", text, re.ASCII):
            raise AmountError("bad_grouping", "Thousands separators must come every three digits, like 1,234.56.")
        raise AmountError("not_a_number", "Enter a number, like 1234.56.")
    whole = match["int"].replace(",", "") or "0"
    fraction = match["frac"] or ""
    if len(fraction) > places:
        raise AmountError("too_many_decimals", f"Use at most {places} decimal places.", places=places)
    # Check the size on the digit count first: int() of a 60-digit string is fine, but pointless.
    whole = whole.lstrip("0") or "0"
    if len(whole) > len(str(maximum)):
        raise AmountError("too_large", f"The {what} is too large.", maximum=maximum)
    value = int(whole) * 10**places + int(fraction.ljust(places, "0") or "0")
    if value > maximum:
        raise AmountError("too_large", f"The {what} is too large.", maximum=maximum)
    if value == 0 and not allow_zero:
        raise AmountError("zero", f"The {what} must be more than zero.")
    return value


def parse_amount(text: str, *, allow_zero: bool = False, max_fen: int = MAX_FEN) -> int:
    """Parse a yuan amount as people type it into integer fen.

    Accepts `1,234.56`, `1234.5`, `1234.`, `¥1234`, `￥1,234`, `1234元`, full-width digits and
    surrounding spaces. Refuses more than two decimals, negatives, zero (unless `allow_zero`),
    anything that is not a plain decimal (exponents, NaN, infinity), misplaced thousands
    separators (`1,23.4`) and amounts over `max_fen`.
    """
    text = _strip_marks(_normalise(text), _PREFIXES, _SUFFIXES)
    return _parse_scaled(text, places=2, allow_zero=allow_zero, maximum=max_fen, what="amount")


def parse_litres(text: str, *, allow_zero: bool = False, max_ml: int = MAX_ML) -> int:
    """Parse a volume in litres (`45.5`, `45.50 L`, `1,200升`) into integer millilitres.

    Two decimals at most: volumes are shown with two (pumps measure to 0.01 L), and a value typed
    must read back exactly as typed.
    """
    text = _strip_marks(_normalise(text), (), _LITRE_SUFFIXES)
    try:
        centilitres = _parse_scaled(text, places=2, allow_zero=allow_zero, maximum=max_ml // 10, what="volume")
    except AmountError as error:
        if error.code == "too_large":  # report the ceiling in the caller's unit, not centilitres
            raise AmountError("too_large", error.message, maximum=max_ml) from None
        raise
    return centilitres * 10


def _group(digits: str) -> str:
    """'1234567' -> '1,234,567'."""
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return ",".join(parts)


def _split(value: int, scale: int) -> tuple[str, int, int]:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int, got {type(value).__name__}")
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), scale)
    return sign, whole, part


def format_fen_plain(fen: int) -> str:
    """`123456` -> `"1234.56"`: for CSV cells and form inputs (parse_amount reads it back)."""
    sign, yuan, cents = _split(fen, 100)
    return f"{sign}{yuan}.{cents:02d}"


def format_fen(fen: int, locale: str = "zh_CN") -> str:
    """`123456` -> `"¥1,234.56"`, `-5` -> `"-¥0.05"`.

    The same form in Chinese and English: ¥ with comma grouping is how both read amounts in China
    (the English "CN¥" only matters next to other currencies, which the portal never shows).
    `locale` is accepted so that callers do not need to change if a language ever differs.
    """
    sign, yuan, cents = _split(fen, 100)
    return f"{sign}¥{_group(str(yuan))}.{cents:02d}"


def _litres_parts(ml: int) -> tuple[str, int, int]:
    """Sign, whole litres and hundredths of `ml`, rounded half up (no "-0.00")."""
    sign, _, _ = _split(ml, 1000)
    litres, hundredths = divmod((abs(ml) + 5) // 10, 100)
    if litres == 0 and hundredths == 0:
        sign = ""
    return sign, litres, hundredths


def format_litres(ml: int, locale: str = "zh_CN") -> str:
    """`45125` -> `"45.13 L"`: two decimals, half up, grouped like amounts."""
    sign, litres, hundredths = _litres_parts(ml)
    return f"{sign}{_group(str(litres))}.{hundredths:02d} L"


def format_litres_plain(ml: int) -> str:
    """`45120` -> `"45.12"`: for CSV and inputs (parse_litres reads it back)."""
    sign, litres, hundredths = _litres_parts(ml)
    return f"{sign}{litres}.{hundredths:02d}"


def fen_for_litres(ml: int, fen_per_litre: int) -> int:
    """The price of `ml` millilitres at `fen_per_litre`, rounded half up to the fen."""
    if ml < 0 or fen_per_litre < 0:
        raise ValueError("volume and price must not be negative")
    return (ml * fen_per_litre + 500) // 1000


def amount_in_words(fen: int, locale: str = "zh_CN") -> str:
    """An amount as written on a cheque, for confirmations before money moves: Chinese capitals
    (`123456` -> "壹仟贰佰叁拾肆元伍角陆分", cn2an's "rmb" mode, the form banks use) or English words
    ("One thousand, two hundred and thirty-four yuan and fifty-six fen", num2words). The amount goes
    to cn2an as a decimal string, never a float."""
    sign, yuan, cents = _split(fen, 100)
    if locale.startswith("zh"):
        import cn2an  # imported here: only confirmation pages need it

        return ("负" if sign else "") + cn2an.an2cn(f"{yuan}.{cents:02d}", "rmb")
    from num2words import num2words

    words = f"{num2words(yuan, lang='en')} yuan"
    if cents:
        words += f" and {num2words(cents, lang='en')} fen"
    return f"Minus {words}" if sign else words[:1].upper() + words[1:]
