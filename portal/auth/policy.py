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


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of the 10,000 most common passwords (lower case; see the file's header)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


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
        if self.check_common and folded in common_passwords():
            problems.append(_l("This is one of the most common passwords; choose another."))
        if self.history and length <= self.max_length:
            for password_hash in list(recent_hashes)[: self.history]:
                if check_password(password, password_hash):
                    problems.append(_l("Do not reuse one of your last %(n)d passwords.", n=self.history))
                    break
        return problems

    def expired(self, password_changed_at: datetime, now: datetime) -> bool:
        return bool(self.max_age_days) and now - password_changed_at > timedelta(days=self.max_age_days)
