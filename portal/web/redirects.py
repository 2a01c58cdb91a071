"""Redirect targets taken from the request must stay on this site."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a path on this site (no scheme, no host, no '//' or '\\' tricks, no control
    characters such as CR/LF, which would split the Location header), else `default`. The one
    rule for every redirect taken from the request (sign-in's `next`, the language switch)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    return target
