"""Settings classes. Nothing here reads the environment at import: `load_config()` does, when called."""

from __future__ import annotations

import os
from datetime import timedelta
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
    #: Number of proxies in front of the app whose X-Forwarded-For we trust (0: none).
    PROXY_COUNT = 0
    #: The portal's address as users reach it (scheme://host[:port]): every link in mail and SMS is
    #: built on it, never on the request's Host or X-Forwarded-Host. Required in production.
    PUBLIC_URL: str | None = "http://127.0.0.1:5000"

    #: Where one-time codes and mail go in development: "console" prints and keeps an outbox.
    MAIL_BACKEND = "console"
    SMS_BACKEND = "console"
    #: One-time codes and links (registration codes, reset links) sent to one phone number, one mail
    #: address or one account, at most this many per hour and per day.
    CODE_SEND_LIMIT_PER_HOUR = 5
    CODE_SEND_LIMIT_PER_DAY = 10

    #: Largest single amount any form accepts, in fen (100 million yuan).
    MAX_AMOUNT_FEN = 100_000_000_00
    PAGE_SIZE = 50

    HSTS = False

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
    #: Statistics and purchase totals read the daily totals table (kept with every purchase; rebuild
    #: with `flask --app portal statistics rebuild-rollup` after importing purchases by other means).
    PURCHASE_ROLLUP = True
    #: "virtual": chips live in the database (see docs/card-reader.md for a hardware reader).
    CARD_READER = "virtual"
    #: A load waiting to be written to the chip is voided after this long.
    CHIP_LOAD_EXPIRY = timedelta(hours=72)

    #: The scheduled jobs' trigger queue (Huey): "sqlite" (a file per host, JOBS_SQLITE_PATH, default
    #: instance/jobs-queue.db) or "redis" (REDIS_URL, shared). Either way each slot runs once (job_runs).
    JOBS_QUEUE = "sqlite"
    JOBS_SQLITE_PATH: str | None = None
    #: A delivered message's body (codes, links) is cleared after this long; messages go after OUTBOX_KEEP.
    OUTBOX_CLEAR_BODY_AFTER = timedelta(minutes=10)
    OUTBOX_KEEP = timedelta(days=90)


class DevelopmentConfig(Config):
    DEBUG = False  # `make run` serves without the debugger: it is reachable by demo users


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret"
    RATELIMIT_ENABLED = False
    BCRYPT_ROUNDS = 4  # tests hash many passwords; production keeps the library default
    PUBLIC_URL = "http://localhost"  # the test client's own host
    #: Test worlds insert purchases directly, without the daily totals; tests/web/test_queries_rollup.py
    #: turns this on and checks the pages are identical either way.
    PURCHASE_ROLLUP = False


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

#: Settings that may come from the environment, with how to parse them.
_ENV_SETTINGS = {
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "REDIS_URL": str,
    "RATELIMIT_STORAGE_URI": str,
    "PROXY_COUNT": int,
    "PUBLIC_URL": str,
    "SMTP_HOST": str,
    "SMTP_PORT": int,
    "MAIL_BACKEND": str,
    "MAIL_SENDER": str,
    "PASSWORD_MIN_LENGTH": int,
    "CODE_SEND_LIMIT_PER_HOUR": int,
    "CODE_SEND_LIMIT_PER_DAY": int,
    "DB_LOCK_TIMEOUT_MS": int,
    "DB_STATEMENT_TIMEOUT_MS": int,
    "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": int,
    "DB_JOB_STATEMENT_TIMEOUT_MS": int,
    "TERMINAL_AUTH_FAILURE_LIMIT": str,
    "TERMINAL_REQUEST_LIMIT": str,
    "JOBS_QUEUE": str,
    "JOBS_SQLITE_PATH": str,
}

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


def _check_code_send_limits(settings: dict) -> None:
    hour, day = settings["CODE_SEND_LIMIT_PER_HOUR"], settings["CODE_SEND_LIMIT_PER_DAY"]
    if not 1 <= hour <= day:
        raise ConfigError("CODE_SEND_LIMIT_PER_HOUR must be at least 1 and at most CODE_SEND_LIMIT_PER_DAY")


def load_config(name: str | None = None, environ: dict[str, str] | None = None) -> dict:
    """Build the settings for `name` (default: $PORTAL_ENV or development) from class and environment."""
    environ = os.environ if environ is None else environ
    name = name or environ.get("PORTAL_ENV", "development")
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise ConfigError(f"unknown PORTAL_ENV {name!r}; use one of {', '.join(CONFIGS)}") from None
    settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
    settings["ENV_NAME"] = name
    for key, parse in _ENV_SETTINGS.items():
        if key in environ:
            try:
                settings[key] = parse(environ[key])
            except ValueError:
                raise ConfigError(f"{key} must be {parse.__name__}") from None
    if not 8 <= settings["PASSWORD_MIN_LENGTH"] <= 64:
        raise ConfigError("PASSWORD_MIN_LENGTH must be 8 to 64 (MLPS 2.0 requires at least 8)")
    _check_code_send_limits(settings)
    if settings.get("PUBLIC_URL"):
        settings["PUBLIC_URL"] = public_url(settings["PUBLIC_URL"])
    for key in DB_TIMEOUT_SETTINGS:
        if settings[key] < 0:
            raise ConfigError(f"{key} must be 0 (no limit) or a number of milliseconds")
    if settings.get("REDIS_URL") and "RATELIMIT_STORAGE_URI" not in environ:
        settings["RATELIMIT_STORAGE_URI"] = settings["REDIS_URL"]
    if name == "production":
        missing = [key for key in ("SECRET_KEY", "DATABASE_URL") if not settings.get(key)]
        if missing:
            raise ConfigError("production needs " + " and ".join(missing) + " in the environment")
        if settings["SECRET_KEY"] == Config.SECRET_KEY or len(settings["SECRET_KEY"]) < 32:
            raise ConfigError("production SECRET_KEY must be a random string of 32+ characters")
        if not settings.get("PUBLIC_URL"):
            raise ConfigError(
                "production needs PUBLIC_URL in the environment (the portal's address, e.g. https://portal.example.cn):"
                " links in mail and SMS are built on it"
            )
    return settings
