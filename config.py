"""Settings classes. Nothing here reads the environment at import: `load_config()` does, when called."""

from __future__ import annotations

import base64
import difflib
import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit


class Config:
    """Defaults shared by every environment."""

    SECRET_KEY: str | None = "dev-only-not-secret"
    #: SQLAlchemy URL; None means "a SQLite file in the instance folder" (resolved by create_app).
    DATABASE_URL: str | None = None
    SQL_ECHO = False
    #: PostgreSQL limits for web pages and the terminal API, in milliseconds (0: none). A request that
    #: waits longer for a row lock, runs one statement longer, or leaves its transaction idle longer
    #: is stopped and rolled back: a 503 with Retry-After, nothing changed (see portal.db.Timeouts).
    DB_LOCK_TIMEOUT_MS = 3000
    DB_STATEMENT_TIMEOUT_MS = 15000
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS = 30000
    #: CLI commands and other work outside a request (ledger verify, points expiry, the statistics
    #: rebuild, migrations) keep the lock timeout but get this statement timeout (0: none) and no
    #: idle-in-transaction limit.
    DB_JOB_STATEMENT_TIMEOUT_MS = 0
    #: PostgreSQL: seconds to wait for a new connection (an unreachable server makes /readyz answer
    #: 503 and a request fail after this, instead of hanging for the kernel's TCP timeout).
    DB_CONNECT_TIMEOUT_S = 5

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    #: Business days and every date shown to a person are in this zone; storage is UTC.
    BUSINESS_TIMEZONE = "Asia/Shanghai"

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session (which itself expires)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "portal_session"
    #: Server-side sign-in sessions: idle and absolute lifetimes.
    SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
    SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)

    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    #: Flask-Limiter: when the storage (Redis) cannot be reached, count in this process's memory and
    #: log a warning, instead of answering 500; the shared storage is used again once it is back.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    #: Redis that drops packets must not hold a sign-in for the kernel's connect timeout (longer than
    #: gunicorn's): give up after a second and fall back as above.
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    #: Prepended to every rate-limit key: deployments (or test runs) sharing one Redis stay apart.
    RATELIMIT_KEY_PREFIX = ""
    #: Largest request body any page accepts, in bytes (the funds CSV upload is the largest); a
    #: larger one is refused with a 413 page before it is parsed. The terminal API has its own,
    #: smaller bound (TERMINAL_MAX_BODY_BYTES, 64 KiB).
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    #: Number of proxies in front of the app whose X-Forwarded-For we trust (0: none).
    PROXY_COUNT = 0
    #: The portal's address as users reach it (scheme://host[:port]): every link in mail and SMS is
    #: built on it, never on the request's Host or X-Forwarded-Host. Required in production.
    PUBLIC_URL: str | None = "http://127.0.0.1:5000"

    #: Where one-time codes and mail go in development: "console" prints and keeps an outbox.
    #: Production refuses "console" (see BACKEND_CHOICES for the others).
    MAIL_BACKEND = "console"
    SMS_BACKEND = "console"
    #: Mail with MAIL_BACKEND=smtp (Flask-Mailman): server, login (both or neither), STARTTLS or SMTPS
    #: (not both), seconds to wait for the server, a private CA's PEM file (default: the system's CAs).
    SMTP_HOST = "127.0.0.1"
    SMTP_PORT = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS = False
    SMTP_SSL = False
    SMTP_TIMEOUT = 10
    SMTP_CA_FILE: str | None = None
    MAIL_SENDER = "portal@localhost"
    #: SMS with SMS_BACKEND=tencent (Tencent Cloud SMS, SendSms 2021-01-11): the API key pair, the SMS
    #: application id, the approved signature, "key=template id" pairs (SMS_TEMPLATE_KEYS), the region,
    #: the API's address and seconds to wait for it.
    SMS_SECRET_ID: str | None = None
    SMS_SECRET_KEY: str | None = None
    SMS_APP_ID: str | None = None
    SMS_SIGN_NAME: str | None = None
    SMS_TEMPLATES: str | None = None
    SMS_REGION = "ap-guangzhou"
    SMS_ENDPOINT = "https://sms.tencentcloudapi.com"
    SMS_TIMEOUT = 10
    #: One-time codes and links (registration codes, reset links) sent to one phone number, one mail
    #: address or one account, at most this many per hour and per day.
    CODE_SEND_LIMIT_PER_HOUR = 5
    CODE_SEND_LIMIT_PER_DAY = 10

    #: Largest single amount any form accepts, in fen (100 million yuan).
    MAX_AMOUNT_FEN = 100_000_000_00
    PAGE_SIZE = 50

    HSTS = False

    #: Log lines: "json" (one JSON object per line, portal.ops.logs), "text", or "" to leave logging alone.
    LOG_FORMAT = "json"
    LOG_LEVEL = "INFO"
    #: Who may read /metrics: these addresses or networks (commas or spaces between), or a client
    #: sending `Authorization: Bearer <METRICS_TOKEN>` (set it in the environment; unset: no token).
    METRICS_ALLOW = "127.0.0.1, ::1"
    METRICS_TOKEN: str | None = None

    #: Shortest password accepted (8, the MLPS 2.0 floor; OWASP ASVS recommends 12). 8 to 64.
    PASSWORD_MIN_LENGTH = 8

    #: Card services: a lost card is blocked at once; the loss takes full effect after this many
    #: hours, and a replacement card can be issued after this many days.
    LOSS_EFFECT_HOURS = 24
    REPLACEMENT_DAYS = 7
    #: Points older than this expire (`flask --app portal points expire`).
    POINTS_EXPIRY_DAYS = 730
    #: Longest date range a list query and a statistic may span.
    QUERY_MAX_DAYS = 366
    STATISTICS_MAX_MONTHS = 24
    #: Most data rows an Excel (XLSX) export holds; a larger one is refused with a page that offers
    #: the CSV, which streams any number of rows.
    EXPORT_XLSX_MAX_ROWS = 200_000
    #: Statistics and purchase totals read the daily totals table (kept with every purchase; rebuild
    #: with `flask --app portal statistics rebuild-rollup` after importing purchases by other means).
    PURCHASE_ROLLUP = True
    #: "virtual": chips live in the database, with a "simulate purchase" form (development only);
    #: "none": no reader, the chip pages answer 501. See docs/card-reader.md for a hardware reader.
    CARD_READER = "virtual"
    #: A load waiting to be written to the chip is voided after this long.
    CHIP_LOAD_EXPIRY = timedelta(hours=72)

    #: The scheduled jobs' trigger queue (Huey): "sqlite" (a file per host, JOBS_SQLITE_PATH, default
    #: instance/jobs-queue.db) or "redis" (REDIS_URL, shared). Either way each slot runs once (job_runs).
    JOBS_QUEUE = "sqlite"
    JOBS_SQLITE_PATH: str | None = None
    #: The queue's name (its Redis keys, its rows in the SQLite file); None: RATELIMIT_KEY_PREFIX +
    #: "portal-jobs", so deployments (or a test run and a developer) sharing one Redis stay apart.
    JOBS_QUEUE_NAME: str | None = None
    #: A delivered message's body (codes, links) is cleared after this long; messages go after OUTBOX_KEEP.
    OUTBOX_CLEAR_BODY_AFTER = timedelta(minutes=10)
    OUTBOX_KEEP = timedelta(days=90)
    #: Records of the scheduled jobs' runs (the jobs page) are kept this long.
    JOB_RUNS_KEEP = timedelta(days=30)
    #: Rows a bulk job (points expiry, load expiry, pruning) changes per committed transaction.
    JOBS_BATCH_SIZE = 500

    #: Webhooks (portal.webhooks): http:// and loopback receivers allowed (development and tests only;
    #: production refuses it), seconds to wait for a receiver's answer, and the Fernet key that
    #: encrypts the signing secrets (None: derived from SECRET_KEY).
    WEBHOOKS_ALLOW_INSECURE = False
    WEBHOOKS_TIMEOUT = 10
    WEBHOOK_SECRET_KEY: str | None = None


class DevelopmentConfig(Config):
    DEBUG = False  # `make run` serves without the debugger: it is reachable by demo users
    WEBHOOKS_ALLOW_INSECURE = True


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret"
    RATELIMIT_ENABLED = False
    BCRYPT_ROUNDS = 4  # tests hash many passwords; production keeps the library default
    PUBLIC_URL = "http://localhost"  # the test client's own host
    #: Test worlds insert purchases directly, without the daily totals; tests/web/test_queries_rollup.py
    #: turns this on and checks the pages are identical either way.
    PURCHASE_ROLLUP = False
    WEBHOOKS_ALLOW_INSECURE = True


class ProductionConfig(Config):
    SECRET_KEY = None
    SESSION_COOKIE_SECURE = True
    HSTS = True
    PROXY_COUNT = 1
    PUBLIC_URL = None


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def _boolean(value: str) -> bool:
    """yes/no for a setting: 1, true, yes, on or 0, false, no, off (any case)."""
    word = value.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


_DURATION = re.compile(r"(\d+)\s*([smhd]?)")
_UNITS = {"": "seconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _duration(value: str) -> timedelta:
    """A length of time: a whole number of seconds, or with a unit: 90s, 30m, 72h, 7d (any case)."""
    match = _DURATION.fullmatch(value.strip().lower())
    if not match:
        raise ValueError(value)
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


#: What an error says a setting must be, by its parser.
_KINDS = {
    str: "text",
    int: "a whole number",
    _boolean: "yes or no (1/0, true/false, yes/no, on/off)",
    _duration: "a length of time: seconds, or a number with s, m, h or d (90s, 30m, 72h, 7d)",
}

#: Every setting a deployer may set, with how its text is parsed. Each can come from the
#: environment as PORTAL_<NAME> (wins) or <NAME>, or from a .env file (see `environment`); the
#: README's Configuration table lists exactly these (tests/unit/test_config_readme.py checks it).
#: Left out on purpose (the code's own, not a deployment's choice): TESTING, DEBUG, BCRYPT_ROUNDS
#: (the library's default), LANGUAGES, BABEL_DEFAULT_LOCALE (Chinese is the product's default),
#: BABEL_DEFAULT_TIMEZONE and BUSINESS_TIMEZONE (business days already stored in the daily totals and
#: limits would shift), security settings the code relies on (WTF_CSRF_TIME_LIMIT,
#: SESSION_COOKIE_HTTPONLY, SESSION_COOKIE_SAMESITE, SESSION_COOKIE_NAME), the limiter's behaviour
#: (RATELIMIT_HEADERS_ENABLED, RATELIMIT_IN_MEMORY_FALLBACK_ENABLED, RATELIMIT_SWALLOW_ERRORS,
#: RATELIMIT_STORAGE_OPTIONS), PERMANENT_SESSION_LIFETIME (follows SESSION_ABSOLUTE_TIMEOUT) and
#: NOTIFY_IN_BACKGROUND (tests turn it off).
_ENV_SETTINGS: dict[str, Callable[[str], object]] = {
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "REDIS_URL": str,
    "RATELIMIT_STORAGE_URI": str,
    "RATELIMIT_KEY_PREFIX": str,
    "PROXY_COUNT": int,
    "PUBLIC_URL": str,
    "MAX_CONTENT_LENGTH": int,
    "TERMINAL_MAX_BODY_BYTES": int,
    "SMTP_HOST": str,
    "SMTP_PORT": int,
    "SMTP_USERNAME": str,
    "SMTP_PASSWORD": str,
    "SMTP_STARTTLS": _boolean,
    "SMTP_SSL": _boolean,
    "SMTP_TIMEOUT": int,
    "SMTP_CA_FILE": str,
    "MAIL_BACKEND": str,
    "MAIL_SENDER": str,
    "SMS_BACKEND": str,
    "SMS_SECRET_ID": str,
    "SMS_SECRET_KEY": str,
    "SMS_APP_ID": str,
    "SMS_SIGN_NAME": str,
    "SMS_TEMPLATES": str,
    "SMS_REGION": str,
    "SMS_ENDPOINT": str,
    "SMS_TIMEOUT": int,
    "CARD_READER": str,
    "PASSWORD_MIN_LENGTH": int,
    "CODE_SEND_LIMIT_PER_HOUR": int,
    "CODE_SEND_LIMIT_PER_DAY": int,
    "DB_LOCK_TIMEOUT_MS": int,
    "DB_STATEMENT_TIMEOUT_MS": int,
    "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": int,
    "DB_JOB_STATEMENT_TIMEOUT_MS": int,
    "TERMINAL_AUTH_FAILURE_LIMIT": str,
    "TERMINAL_REQUEST_LIMIT": str,
    "API_RATE_LIMIT": str,
    "API_AUTH_FAILURE_LIMIT": str,
    "API_MAX_BODY_BYTES": int,
    "LOG_FORMAT": str,
    "LOG_LEVEL": str,
    "METRICS_ALLOW": str,
    "METRICS_TOKEN": str,
    "JOBS_QUEUE": str,
    "JOBS_SQLITE_PATH": str,
    "JOBS_QUEUE_NAME": str,
    "JOB_RUNS_KEEP": _duration,
    "DB_CONNECT_TIMEOUT_S": int,
    "SQL_ECHO": _boolean,
    "SESSION_COOKIE_SECURE": _boolean,
    "HSTS": _boolean,
    "SESSION_IDLE_TIMEOUT": _duration,
    "SESSION_ABSOLUTE_TIMEOUT": _duration,
    "MAX_AMOUNT_FEN": int,
    "PAGE_SIZE": int,
    "LOSS_EFFECT_HOURS": int,
    "REPLACEMENT_DAYS": int,
    "POINTS_EXPIRY_DAYS": int,
    "QUERY_MAX_DAYS": int,
    "STATISTICS_MAX_MONTHS": int,
    "EXPORT_XLSX_MAX_ROWS": int,
    "PURCHASE_ROLLUP": _boolean,
    "CHIP_LOAD_EXPIRY": _duration,
    "OUTBOX_CLEAR_BODY_AFTER": _duration,
    "OUTBOX_KEEP": _duration,
    "JOBS_BATCH_SIZE": int,
    "WEBHOOKS_ALLOW_INSECURE": _boolean,
    "WEBHOOKS_TIMEOUT": int,
    "WEBHOOK_SECRET_KEY": str,
}
#: The prefix of the environment variables that set settings (PORTAL_SECRET_KEY, ...); the
#: unprefixed names work too. PORTAL_ENV (which settings class) is not a setting.
ENV_PREFIX = "PORTAL_"
#: The values a backend setting may take. A new backend (the SMS gateway, a hardware card reader)
#: adds its name here and where it is built (portal.notify.web.backends, portal.chips.views.get_reader).
BACKEND_CHOICES = {
    "MAIL_BACKEND": ("console", "smtp"),
    "SMS_BACKEND": ("console", "tencent"),
    "CARD_READER": ("virtual", "none"),
    "JOBS_QUEUE": ("sqlite", "redis"),
}
#: Backends only the tests may use (one process, nothing kept): never a deployment's.
TESTING_BACKENDS = {"JOBS_QUEUE": ("memory",)}

#: Whole-number settings and the values that work: (lowest, highest).
INT_RANGES = {
    "DB_CONNECT_TIMEOUT_S": (1, 300),
    "MAX_AMOUNT_FEN": (1, 10**12),  # 10 billion yuan: far from any 64-bit sum
    "PAGE_SIZE": (1, 500),
    "LOSS_EFFECT_HOURS": (0, 24 * 30),
    "REPLACEMENT_DAYS": (0, 365),
    "POINTS_EXPIRY_DAYS": (1, 36_500),
    "QUERY_MAX_DAYS": (1, 3_660),
    "STATISTICS_MAX_MONTHS": (1, 120),
    "EXPORT_XLSX_MAX_ROWS": (1, 1_048_575),  # an Excel sheet's rows, less the header
    "JOBS_BATCH_SIZE": (1, 100_000),
    "WEBHOOKS_TIMEOUT": (1, 60),
}
#: Lengths of time that must be more than zero.
DURATION_SETTINGS = (
    "SESSION_IDLE_TIMEOUT",
    "SESSION_ABSOLUTE_TIMEOUT",
    "CHIP_LOAD_EXPIRY",
    "OUTBOX_CLEAR_BODY_AFTER",
    "OUTBOX_KEEP",
    "JOB_RUNS_KEEP",
)

#: The database time limits, in milliseconds (0: none).
DB_TIMEOUT_SETTINGS = (
    "DB_LOCK_TIMEOUT_MS",
    "DB_STATEMENT_TIMEOUT_MS",
    "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
    "DB_JOB_STATEMENT_TIMEOUT_MS",
)


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


def public_url(value: str) -> str:
    """PUBLIC_URL checked: http(s)://host[:port], nothing after it; returned without a trailing slash."""
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or value.strip().endswith(("?", "#"))
        or any(char.isspace() or char == "\\" for char in value.strip())
    ):
        raise ConfigError(
            f"PUBLIC_URL must be the portal's address as http(s)://host[:port] with nothing after it, not {value!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"


#: The SMS templates the portal sends (each needs an id in SMS_TEMPLATES with a gateway) and their
#: parameters, in order: what to have approved by the provider (README, "Mail and SMS").
SMS_TEMPLATE_KEYS = {"registration_code": ("code", "minutes"), "recovery_link": ("link", "minutes")}
#: With SMS_BACKEND=tencent, production needs every one of these.
SMS_GATEWAY_SETTINGS = ("SMS_SECRET_ID", "SMS_SECRET_KEY", "SMS_APP_ID", "SMS_SIGN_NAME", "SMS_TEMPLATES")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def sms_templates(text: str | None) -> dict[str, str]:
    """SMS_TEMPLATES: "registration_code=1234567,recovery_link=7654321" -> {key: template id}."""
    templates = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, template_id = (part.strip() for part in item.partition("="))
        if not sep or not key or not template_id:
            raise ConfigError(f"SMS_TEMPLATES must be key=template id pairs with commas between, not {item!r}")
        if key not in SMS_TEMPLATE_KEYS:
            raise ConfigError(f"SMS_TEMPLATES: {key!r} is not a template; they are {', '.join(SMS_TEMPLATE_KEYS)}")
        templates[key] = template_id
    return templates


def rate_limits_in_memory(storage_uri: str | None) -> bool:
    """A limits storage URL that counts in this process's memory: memory://, MEMORY://, async+memory://,
    with spaces around; an empty one too (the limiter's default is memory)."""
    scheme = urlsplit(str(storage_uri or "").strip()).scheme.strip().lower()
    return not scheme or "memory" in scheme


def _check_ranges(settings: dict) -> None:
    for key, (low, high) in INT_RANGES.items():
        if not low <= settings[key] <= high:
            raise ConfigError(f"{key} must be {low} to {high}, not {settings[key]}")
    for key in DURATION_SETTINGS:
        if settings[key] <= timedelta(0):
            raise ConfigError(f"{key} must be more than zero (e.g. 30m, 72h, 7d)")
    if settings["SESSION_IDLE_TIMEOUT"] > settings["SESSION_ABSOLUTE_TIMEOUT"]:
        raise ConfigError("SESSION_IDLE_TIMEOUT must not be longer than SESSION_ABSOLUTE_TIMEOUT")


def _check_mail_and_sms(settings: dict) -> None:
    if settings.get("SMTP_STARTTLS") and settings.get("SMTP_SSL"):
        raise ConfigError("SMTP_STARTTLS and SMTP_SSL are exclusive: STARTTLS upgrades a plain connection (port 587),"
                          " SMTP_SSL starts with TLS (port 465); set one")  # fmt: skip
    if bool(settings.get("SMTP_USERNAME")) != bool(settings.get("SMTP_PASSWORD")):
        raise ConfigError("SMTP_USERNAME and SMTP_PASSWORD go together: set both to log in, or neither")
    for key in ("SMTP_TIMEOUT", "SMS_TIMEOUT"):
        if not 1 <= settings[key] <= 300:
            raise ConfigError(f"{key} must be 1 to 300 seconds")
    sms_templates(settings.get("SMS_TEMPLATES"))
    endpoint = urlsplit(settings.get("SMS_ENDPOINT") or "")
    if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
        raise ConfigError(f"SMS_ENDPOINT must be http(s)://host[:port], not {settings.get('SMS_ENDPOINT')!r}")


def _plain_smtp_password(settings: dict) -> bool:
    """A mail password would cross the network unencrypted: no STARTTLS or SMTPS to a host not this one."""
    return (
        settings["MAIL_BACKEND"] == "smtp"
        and bool(settings.get("SMTP_PASSWORD"))
        and not (settings.get("SMTP_STARTTLS") or settings.get("SMTP_SSL"))
        and str(settings.get("SMTP_HOST") or "").strip().lower() not in _LOOPBACK
    )


def _sms_gateway_rules() -> tuple[tuple[str, Callable[[dict], bool], str], ...]:
    """Production with SMS_BACKEND=tencent: each setting it needs, and a template id for every template."""
    rules = [
        (
            key,
            lambda s, key=key: s["SMS_BACKEND"] == "tencent" and not str(s.get(key) or "").strip(),
            f"{key} is missing: SMS_BACKEND=tencent needs it (see README, Mail and SMS)",
        )
        for key in SMS_GATEWAY_SETTINGS
    ]
    rules.append(
        (
            "SMS_TEMPLATES",
            lambda s: (
                s["SMS_BACKEND"] == "tencent"
                and bool(s.get("SMS_TEMPLATES"))
                and not set(SMS_TEMPLATE_KEYS) <= set(sms_templates(s["SMS_TEMPLATES"]))
            ),
            f"SMS_TEMPLATES is incomplete: it needs a template id for each of {', '.join(SMS_TEMPLATE_KEYS)}",
        )
    )
    rules.append(
        (
            "SMS_ENDPOINT",
            lambda s: (
                s["SMS_BACKEND"] == "tencent"
                and urlsplit(str(s.get("SMS_ENDPOINT") or "").strip()).scheme.lower() != "https"
            ),
            "SMS_ENDPOINT is not https://: the API key's signatures and the codes would cross the network unencrypted",
        )
    )
    return tuple(rules)


def _check_webhook_key(key: str | None) -> None:
    """WEBHOOK_SECRET_KEY, if set, must be a Fernet key: 32 bytes in url-safe base64."""
    if not key:
        return
    try:
        valid = len(base64.urlsafe_b64decode(key.encode())) == 32 and len(key) == 44
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise ConfigError(
            "WEBHOOK_SECRET_KEY must be a Fernet key (44 characters of url-safe base64), e.g. from"
            " python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )


def _check_code_send_limits(settings: dict) -> None:
    hour, day = settings["CODE_SEND_LIMIT_PER_HOUR"], settings["CODE_SEND_LIMIT_PER_DAY"]
    if not 1 <= hour <= day:
        raise ConfigError("CODE_SEND_LIMIT_PER_HOUR must be at least 1 and at most CODE_SEND_LIMIT_PER_DAY")


def environment(environ: dict[str, str] | None = None, dotenv: Path | None = None) -> dict[str, str]:
    """The variables settings are read from: `environ` (default: the process environment) over the
    .env file `dotenv` (default: .env in the working directory, if there is one)."""
    from dotenv import dotenv_values

    environ = os.environ if environ is None else environ
    dotenv = Path.cwd() / ".env" if dotenv is None else dotenv
    from_file = dotenv_values(dotenv) if dotenv.is_file() else {}
    # A setting the environment gives, under either name, is the environment's: the file's lines for
    # it (PORTAL_X or X) are dropped before the prefix rule picks between names.
    given = {variable.removeprefix(ENV_PREFIX) for variable in environ}
    kept = {k: v for k, v in from_file.items() if v is not None and k.removeprefix(ENV_PREFIX) not in given}
    return {**kept, **environ}


def _raw_settings(environ: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Each setting given: (the variable, its text), from PORTAL_<NAME> if set, else <NAME>. An
    unknown PORTAL_ name is an error (a typo must not leave a setting at its default unnoticed)."""
    raw = {key: (key, environ[key]) for key in _ENV_SETTINGS if key in environ}
    for variable, value in environ.items():
        if not variable.startswith(ENV_PREFIX) or variable == "PORTAL_ENV":
            continue
        key = variable.removeprefix(ENV_PREFIX)
        if key not in _ENV_SETTINGS:
            close = difflib.get_close_matches(key, _ENV_SETTINGS, n=1)
            hint = f" (did you mean {ENV_PREFIX}{close[0]}?)" if close else ""
            raise ConfigError(f"{variable} is not a setting{hint}; the settings are listed in README.md")
        raw[key] = (variable, value)
    return raw


def _parse(raw: dict[str, tuple[str, str]]) -> dict:
    settings = {}
    for key, (variable, text) in raw.items():
        parse = _ENV_SETTINGS[key]
        try:
            settings[key] = parse(text)
        except ValueError:
            raise ConfigError(f"{variable} must be {_KINDS[parse]}, not {text!r}") from None
    return settings


def _check(settings: dict) -> None:
    """Rules for every environment."""
    if not 8 <= settings["PASSWORD_MIN_LENGTH"] <= 64:
        raise ConfigError("PASSWORD_MIN_LENGTH must be 8 to 64 (MLPS 2.0 requires at least 8)")
    _check_code_send_limits(settings)
    _check_mail_and_sms(settings)
    if settings.get("PUBLIC_URL"):
        settings["PUBLIC_URL"] = public_url(settings["PUBLIC_URL"])
    for key in DB_TIMEOUT_SETTINGS:
        if settings[key] < 0:
            raise ConfigError(f"{key} must be 0 (no limit) or a number of milliseconds")
    for key in ("MAX_CONTENT_LENGTH", "TERMINAL_MAX_BODY_BYTES", "API_MAX_BODY_BYTES"):
        if settings.get(key) is not None and settings[key] < 1:
            raise ConfigError(f"{key} must be a number of bytes, at least 1")
    _check_ranges(settings)
    _check_webhook_key(settings.get("WEBHOOK_SECRET_KEY"))
    for key, choices in BACKEND_CHOICES.items():
        allowed = choices + (TESTING_BACKENDS.get(key, ()) if settings.get("ENV_NAME") == "testing" else ())
        if settings[key] not in allowed:
            raise ConfigError(f"{key} must be one of {', '.join(choices)}, not {settings[key]!r}")


#: Secrets that are in this file (and so in every copy of the code): never a production secret.
_KNOWN_SECRETS = {Config.SECRET_KEY, "testing-secret"}
_NEW_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


def _weak_secret(key: str | None) -> bool:
    """Short, known (or containing a known one), a shorter string repeated, or too few characters."""
    if not key:
        return False
    return (
        len(key) < 32
        or any(known in key for known in _KNOWN_SECRETS if known)
        or key in (key + key)[1:-1]
        or len(set(key)) < 16
    )


#: What production refuses to start with: (setting, "unsafe?", why). The one home of these rules.
PRODUCTION_RULES: tuple[tuple[str, Callable[[dict], bool], str], ...] = (
    ("SECRET_KEY", lambda s: not s.get("SECRET_KEY"), "SECRET_KEY is missing: set a random string of 32+ characters"),
    (
        "SECRET_KEY",
        lambda s: _weak_secret(s.get("SECRET_KEY")),
        f"SECRET_KEY is weak: it must be a random string of 32+ characters, e.g. from {_NEW_SECRET}",
    ),
    ("DATABASE_URL", lambda s: not s.get("DATABASE_URL"), "DATABASE_URL is missing: production runs on PostgreSQL"),
    (
        "PUBLIC_URL",
        lambda s: not s.get("PUBLIC_URL"),
        "PUBLIC_URL is missing: the portal's address (e.g. https://portal.example.cn), links in mail and SMS"
        " are built on it",
    ),
    (
        "MAIL_BACKEND",
        lambda s: s["MAIL_BACKEND"] == "console",
        "MAIL_BACKEND is console: it prints mail (reset links, codes) into the log; use smtp",
    ),
    (
        "SMS_BACKEND",
        lambda s: s["SMS_BACKEND"] == "console",
        "SMS_BACKEND is console: it prints text messages (registration codes) into the log; use an SMS gateway",
    ),
    (
        "SMTP_PASSWORD",
        _plain_smtp_password,
        "SMTP_PASSWORD is set for a plain connection to another host: the password would cross the network"
        " unencrypted; set SMTP_STARTTLS or SMTP_SSL (or relay through a mail server on this host)",
    ),
    *_sms_gateway_rules(),
    (
        "CARD_READER",
        lambda s: s["CARD_READER"] == "virtual",
        "CARD_READER is virtual: its chips live in the database and anyone may simulate purchases;"
        " use a hardware reader or none",
    ),
    (
        "RATELIMIT_STORAGE_URI",
        lambda s: rate_limits_in_memory(s.get("RATELIMIT_STORAGE_URI")),
        "RATELIMIT_STORAGE_URI is memory://: each process would count on its own; set REDIS_URL",
    ),
    (
        "JOBS_QUEUE",
        lambda s: s.get("JOBS_QUEUE") == "redis" and not str(s.get("REDIS_URL") or "").strip(),
        "JOBS_QUEUE is redis but REDIS_URL is missing: set REDIS_URL, or use JOBS_QUEUE=sqlite",
    ),
    (
        "WEBHOOKS_ALLOW_INSECURE",
        lambda s: bool(s.get("WEBHOOKS_ALLOW_INSECURE")),
        "WEBHOOKS_ALLOW_INSECURE is on: webhooks could go over plain http and to this host's own services",
    ),
    (
        "SESSION_COOKIE_SECURE",
        lambda s: not s.get("SESSION_COOKIE_SECURE"),
        "SESSION_COOKIE_SECURE is off: the sign-in cookie would also be sent over plain http",
    ),
)


def production_problems(settings: dict) -> list[str]:
    """Why `settings` are unsafe for production, one line per problem (empty: safe)."""
    return [why for _key, unsafe, why in PRODUCTION_RULES if unsafe(settings)]


def load_config(name: str | None = None, environ: dict[str, str] | None = None) -> dict:
    """Build the settings for `name` (default: $PORTAL_ENV or development) from the class and the
    environment (`environ`, default: the process environment over .env)."""
    if environ is None:  # tests never read a developer's .env
        testing = (name or os.environ.get("PORTAL_ENV")) == "testing"
        environ = os.environ if testing else environment()
    name = name or environ.get("PORTAL_ENV", "development")
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise ConfigError(f"unknown PORTAL_ENV {name!r}; use one of {', '.join(CONFIGS)}") from None
    settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
    settings["ENV_NAME"] = name
    given = _parse(_raw_settings(environ))
    settings.update(given)
    _check(settings)
    settings["PERMANENT_SESSION_LIFETIME"] = settings["SESSION_ABSOLUTE_TIMEOUT"]
    if settings.get("REDIS_URL") and "RATELIMIT_STORAGE_URI" not in given:
        settings["RATELIMIT_STORAGE_URI"] = settings["REDIS_URL"]
    if name == "production" and (problems := production_problems(settings)):
        raise ConfigError("production refuses to start:\n  " + "\n  ".join(problems))
    return settings
