"""Password rules (密码规则): one object, configured from app config, applied on every path that sets a
password (registration, change, recovery, staff reset, CLI) and described on every such page.

No database and no request: Callers pass what the rules need (user name, card numbers, the
hashes of recent passwords).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from flask_babel import lazy_gettext as _l

from portal.auth.passwords import check_password

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt")
PINYIN_FILE = Path(__file__).with_name("pinyin-passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list: the 10,000 most common passwords plus Chinese leaks (lower case; see the file)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


@cache
def pinyin_lists() -> dict[str, frozenset[str]]:
    """The pinyin file's sections: "words" (and well-known names), "surnames", "given" syllables."""
    sections: dict[str, set[str]] = {}
    current = sections.setdefault("words", set())
    for line in PINYIN_FILE.read_text(encoding="utf-8").splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], set())
        elif line and not line.startswith("#"):
            current.add(line)
    return {name: frozenset(words) for name, words in sections.items()}


# --- what "common" covers besides the list -----------------------------------------------------------
#
# A candidate is folded (case), then looked up as is, with symbols trimmed from its ends, and with
# digits and symbols trimmed from either or both ends (Password123! -> password); each of those also
# with l33t undone (P@ssw0rd -> password; 1 as i and as l). The trimmed cores are also refused when
# they are pinyin words or names only (woaini, zhangwei, zhangxiaoming), or a run of sequences,
# repeats or keyboard walks. Finally the whole password is refused when keyboard walks, sequences,
# repeats, love numbers and dates make up most of its letters and digits (Qwer1234!, Abc@5201314).

_LEET = {"@": "a", "4": "a", "0": "o", "!": "i", "3": "e", "5": "s", "$": "s", "7": "t", "+": "t", "8": "b"}
_LEET_I = str.maketrans({**_LEET, "1": "i", "|": "l"})
_LEET_L = str.maketrans({**_LEET, "1": "l", "|": "l"})
#: Shifted digit-row symbols read as their digits for walks and sequences (!@#$ is 1234).
_UNSHIFT = str.maketrans("!@#$%^&*()", "1234567890")
_KEYBOARD_LINES = (
    "`1234567890-=",
    "qwertyuiop[]",
    "asdfghjkl;'",
    "zxcvbnm,./",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/",
    "qazwsxedcrfvtgbyhnujmik,ol.p;/",
    "zaq1xsw2cde3vfr4bgt5nhy6mju7,ki8.lo9/;p0",
    "zaqxswcdevfrbgtnhymju,ki.lo/;p",
    "1qazxsw23edcvfr45tgbnhy67ujm,ki89ol./;p0",
    "1q2w3e4r5t6y7u8i9o0p",
    "qawsedrftgyhujikolp;",
    "azsxdcfvgbhnjmk,l.",
    "147258369",
    "741852963",
    "789456123",
    "159357",
    "753951",
)
_WALKS = " ".join(_KEYBOARD_LINES + tuple(line[::-1] for line in _KEYBOARD_LINES))
#: Numbers that mean love (520 我爱你, 1314 一生一世, 3344 生生世世, 7758 亲亲我吧 ...).
_LOVE_NUMBERS = ("5201314", "1314520", "5211314", "7758521", "7758258", "3344520", "1314", "520", "521", "3344")
_MIN_WALK = 4
_MIN_SEQUENCE = 3


def _leet_variants(text: str) -> set[str]:
    return {text, text.translate(_LEET_I), text.translate(_LEET_L)}


def _trimmed(folded: str) -> set[str]:
    """The folded password with symbols, or digits and symbols, trimmed from its ends."""
    affix = "".join(ch for ch in folded if not ch.isalpha())
    symbols = "".join(ch for ch in folded if not ch.isalnum())
    return {
        folded.strip(symbols),
        folded.strip(affix),
        folded.lstrip(affix),
        folded.rstrip(affix),
    } - {""}


def _is_name_or_pinyin(letters: str) -> bool:
    """Whether `letters` is only pinyin words and names (surname + one or two given syllables)."""
    lists = pinyin_lists()
    words, surnames, given = lists.get("words", ()), lists.get("surnames", ()), lists.get("given", ())
    if len(letters) < 4:
        return False
    # ends[i]: letters[:i] splits into words and names. A name is a surname then 1-2 given syllables.
    ends = [True] + [False] * len(letters)
    for i in range(len(letters)):
        if not ends[i]:
            continue
        for j in range(i + 2, len(letters) + 1):
            piece = letters[i:j]
            if piece in words:
                ends[j] = True
            if piece in surnames:
                for k in range(j + 1, len(letters) + 1):
                    if letters[j:k] in given:
                        ends[k] = True
                        for m in range(k + 1, len(letters) + 1):
                            if letters[k:m] in given:
                                ends[m] = True
    return ends[-1]


def _weak_spans(text: str) -> list[tuple[int, int]]:
    """Spans of `text` (lower-case letters, digits): walks, sequences, repeats, love numbers, dates."""
    spans = []
    n = len(text)
    for i in range(n):
        j = i + _MIN_WALK
        while j <= n and text[i:j] in _WALKS:
            j += 1
        if j - 1 - i >= _MIN_WALK:
            spans.append((i, j - 1))
        for step in (1, -1):
            j = i + 1
            while j < n and text[j].isdigit() == text[i].isdigit() and ord(text[j]) - ord(text[j - 1]) == step:
                j += 1
            if j - i >= _MIN_SEQUENCE:
                spans.append((i, j))
        j = i + 1
        while j < n and text[j] == text[i]:
            j += 1
        if j - i >= 3:
            spans.append((i, j))
        for number in _LOVE_NUMBERS:
            if text.startswith(number, i):
                spans.append((i, i + len(number)))
        for size in (8, 6, 4):
            if text[i : i + size].isdigit() and len(text[i : i + size]) == size and _is_date(text[i : i + size]):
                spans.append((i, i + size))
    return spans


def _is_date(digits: str) -> bool:
    """A year 1940-2039, or a birthday as yyyymmdd, yymmdd or mmdd."""
    if len(digits) == 4 and 1940 <= int(digits) <= 2039:
        return True
    if len(digits) == 8 and not 1940 <= int(digits[:4]) <= 2039:
        return False
    month, day = int(digits[-4:-2]), int(digits[-2:])
    return 1 <= month <= 12 and 1 <= day <= 31


def _mostly_patterns(text: str) -> bool:
    """Whether walks, sequences, repeats, love numbers and dates cover most of `text` (3 in 4, or all but 2)."""
    if not text:
        return False
    covered = set()
    for start, end in _weak_spans(text):
        covered.update(range(start, end))
    return len(covered) >= max(len(text) - 2, 0.75 * len(text))


def is_common(password: str) -> bool:
    """Whether the password is on the list, a variant of an entry, a pinyin word or name with digits
    around it, or mostly keyboard walks, sequences, repeats, love numbers and dates."""
    folded = unicodedata.normalize("NFC", password).casefold()
    listed = common_passwords()
    if folded in listed:
        return True
    for core in _trimmed(folded):
        for variant in _leet_variants(core):
            if len(variant) >= 4 and variant in listed:
                return True
            letters = "".join(ch for ch in variant if ch.isalnum())  # symbols inside dropped: woai#laogong
            if letters.isascii() and letters.isalpha() and len(letters) >= 3:
                if _is_name_or_pinyin(letters) or _mostly_patterns(letters):
                    return True
    simple = "".join(ch for ch in folded.translate(_UNSHIFT) if ch.isascii() and ch.isalnum())
    return len(simple) >= len(folded) / 2 and _mostly_patterns(simple)


def character_classes(password: str) -> set[str]:
    """Which of the four classes a password uses. Letters without case (e.g. Chinese) count as symbols."""
    classes = set()
    for ch in password:
        if ch.islower():
            classes.add("lower")
        elif ch.isupper():
            classes.add("upper")
        elif ch.isdigit():
            classes.add("digit")
        else:
            classes.add("symbol")
    return classes


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    max_length: int = 64
    #: How many of the four classes (lower, upper, digit, symbol) a password must use.
    min_classes: int = 3
    #: A new password may not equal any of this many most recent ones (the current one included).
    history: int = 5
    #: Days after which a password must be changed at the next sign-in; 0 disables expiry.
    max_age_days: int = 90
    check_common: bool = True

    @classmethod
    def from_config(cls, config: Mapping) -> PasswordPolicy:
        """Read `PASSWORD_MIN_LENGTH`, `PASSWORD_MAX_LENGTH`, ... from app config; defaults otherwise."""
        fields = ("min_length", "max_length", "min_classes", "history", "max_age_days", "check_common")
        values = {name: config["PASSWORD_" + name.upper()] for name in fields if "PASSWORD_" + name.upper() in config}
        return cls(**values)

    def rules(self) -> list[str]:
        """The rules in words, for every page that sets a password."""
        rules = [
            _l(
                "%(min)d to %(max)d characters; any language, spaces allowed.", min=self.min_length, max=self.max_length
            ),
            _l(
                "At least %(n)d of: lower-case letters, upper-case letters, digits, other symbols.",
                n=self.min_classes,
            ),
            _l("Must not contain your user name or a card number."),
        ]
        if self.check_common:
            rules.append(_l("Must not be one of the 10,000 most common passwords."))
        if self.history:
            rules.append(_l("Must differ from your last %(n)d passwords.", n=self.history))
        if self.max_age_days:
            rules.append(_l("Expires after %(n)d days.", n=self.max_age_days))
        return rules

    def problems(
        self,
        password: str,
        *,
        username: str = "",
        card_numbers: Iterable[str] = (),
        recent_hashes: Iterable[str] = (),
    ) -> list[str]:
        """Every rule the password breaks, as messages to show (empty: acceptable).

        `recent_hashes` are the bcrypt hashes of the current and previous passwords, newest first.
        """
        problems = []
        password = unicodedata.normalize("NFC", password)
        length = len(password)
        if length < self.min_length or length > self.max_length:
            problems.append(
                _l(
                    "Use %(min)d to %(max)d characters (this has %(n)d).",
                    min=self.min_length,
                    max=self.max_length,
                    n=length,
                )
            )
        if len(character_classes(password)) < self.min_classes:
            problems.append(_l("Use at least %(n)d of: lower case, upper case, digits, symbols.", n=self.min_classes))
        folded = password.casefold()
        if len(username) >= 3 and username.casefold() in folded:
            problems.append(_l("Do not include your user name."))
        if any(number and number in password for number in card_numbers):
            problems.append(_l("Do not include a card number."))
        if self.check_common and length <= self.max_length and is_common(password):  # bounded work
            problems.append(_l("This is one of the most common passwords; choose another."))
        if self.history and length <= self.max_length:
            for password_hash in list(recent_hashes)[: self.history]:
                if check_password(password, password_hash):
                    problems.append(_l("Do not reuse one of your last %(n)d passwords.", n=self.history))
                    break
        return problems

    def expired(self, password_changed_at: datetime, now: datetime) -> bool:
        return bool(self.max_age_days) and now - password_changed_at > timedelta(days=self.max_age_days)
