"""Signing secrets: made per Standard Webhooks ("whsec_" + base64 of 32 random bytes), kept encrypted
at rest with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`). The key is WEBHOOK_SECRET_KEY (a
Fernet key) if set, else derived from SECRET_KEY with HKDF-SHA256, so a database copy alone does not
reveal any secret. Plain Python: the settings come in as a mapping."""

from __future__ import annotations

import base64
import secrets as random
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "whsec_"
SECRET_BYTES = 32


class SecretKeyError(RuntimeError):
    """Neither WEBHOOK_SECRET_KEY nor SECRET_KEY is set, or WEBHOOK_SECRET_KEY is not a Fernet key."""


def new_secret() -> str:
    """A fresh signing secret, as Standard Webhooks writes them: whsec_<base64>."""
    return PREFIX + base64.b64encode(random.token_bytes(SECRET_BYTES)).decode()


def cipher(config: Mapping) -> Fernet:
    """The Fernet that encrypts secrets, from WEBHOOK_SECRET_KEY or else SECRET_KEY."""
    explicit = config.get("WEBHOOK_SECRET_KEY")
    if explicit:
        try:
            return Fernet(explicit)
        except ValueError as error:
            raise SecretKeyError("WEBHOOK_SECRET_KEY must be a Fernet key (32 url-safe base64 bytes)") from error
    base = config.get("SECRET_KEY")
    if not base:
        raise SecretKeyError("SECRET_KEY is not set: webhook secrets cannot be encrypted")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal webhook signing secrets")
    return Fernet(base64.urlsafe_b64encode(derived.derive(str(base).encode())))


def seal(box: Fernet, secret: str) -> str:
    return box.encrypt(secret.encode()).decode()


def unseal(box: Fernet, sealed: str) -> str:
    """The plain secret; SecretKeyError when the key changed since it was sealed."""
    try:
        return box.decrypt(sealed.encode()).decode()
    except InvalidToken as error:
        raise SecretKeyError("this secret was encrypted with another key; rotate the endpoint's secret") from error
