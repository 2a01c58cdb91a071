"""JSON log lines (python-json-logger), one per event, with nothing secret in them.

Every line is a JSON object: time (UTC), level, logger, message, plus whatever the caller or a filter
added (the web side adds request_id, user_id, customer_id, endpoint, method, status, duration_ms).
Before a line is written it is passed through `redact`: passwords, tokens, one-time codes, API keys,
Authorization and Cookie values, passwords inside URLs and password-reset links are replaced by `***`,
whoever logged them (the portal, a library, werkzeug's request lines, gunicorn's access log).
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter

REDACTED = "***"

#: (pattern, replacement): each applied in turn to the whole formatted line.
_SECRETS = (
    # user:password@ in any URL (database, Redis, SMTP)
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@\"']*:)[^@\s/\"']+@"), rf"\1{REDACTED}@"),
    # a Cookie or Authorization header's whole value (every cookie, any scheme), to the line's or quote's end
    (re.compile(r"(?i)\b((?:cookie|authorization)\\?[\"']?\s*[:=]\s*\\?[\"']?)[^\n\"'\\]+"), rf"\1{REDACTED}"),
    # a one-time code in a message's text: "code is 482913", "验证码为 482913"
    (re.compile(r"(?i)((?:code|码)[^0-9\n]{0,12})[0-9]{4,8}\b"), rf"\1{REDACTED}"),
    # Authorization: Bearer/Basic ..., and bare bearer tokens
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"), rf"\1\2{REDACTED}"),
    # a password-reset link's token (the path itself is the secret)
    (re.compile(r"(/auth/reset/)[^\s/?#\"']+"), rf"\1{REDACTED}"),
    # name=value, name: value, "name": "value" for every name that holds a secret
    (
        re.compile(
            r"(?i)(\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|terminal[_-]key|authorization|cookie|"
            r"captcha|code|csrf)[\w-]*\\?[\"']?\s*[:=]\s*\\?[\"']?)([^\s\"'\\&,;}]+)"
        ),
        rf"\1{REDACTED}",
    ),
)


def redact(text: str) -> str:
    """`text` with every secret it carries replaced by ***."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class PortalJsonFormatter(JsonFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message and the extra fields;
    then redacted."""

    def __init__(self, **kwargs):
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__("%(message)s", **kwargs)

    def add_fields(self, log_record: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        log_record["level"] = record.levelname
        log_record["logger"] = record.name
        log_record.pop("color_message", None)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingTextFormatter(logging.Formatter):
    """The plain-text alternative (LOG_FORMAT=text), redacted the same way."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (test runners swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


#: Marks the handler `configure` installs, so a second call replaces it rather than adding another.
_HANDLER_NAME = "portal.ops"


def configure(
    *, level: str = "INFO", fmt: str = "json", stream=None, filters: tuple[logging.Filter, ...] = ()
) -> logging.Handler:
    """Send every log record (the root logger's) to `stream` (default stderr) as JSON lines, or as
    redacted text lines with fmt="text". Calling it again replaces the handler it installed."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    if fmt == "text":
        handler.setFormatter(RedactingTextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(PortalJsonFormatter())
    for log_filter in filters:
        handler.addFilter(log_filter)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
