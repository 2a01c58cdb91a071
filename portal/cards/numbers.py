"""Card numbers: 16 digits, `9030` issuer prefix, 2-digit region code, 9-digit sequence, Luhn check.

    9030 11 000000017 3
    |    |  |         `- Luhn check digit: catches any single mistyped digit and most swaps
    |    |  `- sequence within the region
    |    `- GB/T 2260 province code of the issuing region
    `- issuer prefix

People type numbers with spaces or dashes (and phones type full-width digits); `normalise` folds
those away before anything looks the number up.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.cards.models import Card

ISSUER_PREFIX = "9030"
LENGTH = 16
_SEQUENCE_DIGITS = LENGTH - len(ISSUER_PREFIX) - 2 - 1
MAX_SEQUENCE = 10**_SEQUENCE_DIGITS - 1
_SEPARATORS = re.compile(r"[\s\-]+")


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass the Luhn check."""
    total = 0
    # Double every second digit counting from the right of the full number, i.e. from the last
    # payload digit, since the check digit itself will take the rightmost place.
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return len(number) > 1 and number.isascii() and number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


def card_number(region_code: str, sequence: int) -> str:
    """The card number for a region's `sequence`-th card."""
    if not (len(region_code) == 2 and region_code.isascii() and region_code.isdigit()):
        raise ValueError(f"region code must be two digits, got {region_code!r}")
    if not 0 < sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence must be 1..{MAX_SEQUENCE}")
    payload = f"{ISSUER_PREFIX}{region_code}{sequence:0{_SEQUENCE_DIGITS}d}"
    return payload + luhn_check_digit(payload)


def normalise(text: str) -> str:
    """User input to bare digits: full-width folded, spaces and dashes removed. Not validated."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or ""))


def is_valid_card_number(text: str) -> bool:
    """True for a well-formed number of ours (after `normalise`): length, prefix and check digit."""
    number = normalise(text)
    return len(number) == LENGTH and number.startswith(ISSUER_PREFIX) and luhn_valid(number)


def region_code_of(number: str) -> str:
    """The issuing region's code in a (valid) card number."""
    return normalise(number)[len(ISSUER_PREFIX) : len(ISSUER_PREFIX) + 2]


def format_card_number(number: str) -> str:
    """`9030110000000173` -> `9030 1100 0000 0173`, the way it is printed on the card."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def mask_card_number(number: str) -> str:
    """`9030 **** **** 0173`: for messages and logs that need not show the whole number."""
    return f"{number[:4]} **** **** {number[-4:]}"


def next_card_number(session: Session, region_code: str) -> str:
    """The next free number for `region_code`, after the highest one already issued there.

    Two concurrent issuers could pick the same number; the unique constraint on `cards.number`
    turns that into an IntegrityError for the second, which retries.
    """
    prefix = f"{ISSUER_PREFIX}{region_code}"
    highest = session.scalar(select(func.max(Card.number)).where(Card.number.like(prefix + "%")))
    sequence = int(highest[len(prefix) : -1]) + 1 if highest else 1
    return card_number(region_code, sequence)
