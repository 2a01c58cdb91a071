"""Password hashing with bcrypt.

bcrypt reads at most 72 bytes; a 64-character password in Chinese is up to 256 bytes in UTF-8. Rather
than silently truncate, every password is first reduced to a fixed 44-byte SHA-256 digest (base64), so
every character counts and no NUL byte reaches bcrypt. Passwords are NFC-normalised first, so the
same characters typed on different systems give the same hash.
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata

import bcrypt

DEFAULT_ROUNDS = 12


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(unicodedata.normalize("NFC", password).encode("utf-8")).digest())


def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def check_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
    except ValueError:
        return False


#: A real hash to compare against when the user does not exist, so both paths cost the same.
_DUMMY_HASH = None


def dummy_check(password: str, rounds: int = DEFAULT_ROUNDS) -> None:
    """Spend the time a real check would, for unknown user names."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not a real password", rounds)
    check_password(password, _DUMMY_HASH)
