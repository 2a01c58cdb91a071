import re
from datetime import timedelta
from pathlib import Path

import pytest

import config
from config import ConfigError, load_config

SECRET = "kQ3v-9xZ_pL2mW8rT5yB1nC7dF4gH6jK0sA"  # 36 characters, none repeated much: not weak

#: The SMS gateway's settings production needs (Tencent Cloud SMS).
TENCENT = {
    "SMS_SECRET_ID": "AKIDtest",
    "SMS_SECRET_KEY": "test-secret-key",
    "SMS_APP_ID": "1400000000",
    "SMS_SIGN_NAME": "中油车队",
    "SMS_TEMPLATES": "registration_code=1000001, recovery_link=1000002",
}
#: A production environment every rule accepts.
SAFE = {
    "SECRET_KEY": SECRET,
    "DATABASE_URL": "postgresql+psycopg://db/portal",
    "PUBLIC_URL": "https://portal.example.cn",
    "REDIS_URL": "redis://cache:6379/0",
    "MAIL_BACKEND": "smtp",
    "SMS_BACKEND": "tencent",
    **TENCENT,
    "CARD_READER": "none",
}


def test_development_is_the_default():
    settings = load_config(environ={})
    assert settings["ENV_NAME"] == "development"
    assert settings["BABEL_DEFAULT_LOCALE"] == "zh_CN"
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"


def test_production_with_nothing_set_names_every_problem():
    with pytest.raises(ConfigError) as refused:
        load_config("production", environ={})
    for key, _unsafe, _why in config.PRODUCTION_RULES:
        if key in ("SMTP_PASSWORD", "SMS_ENDPOINT", "JOBS_QUEUE", *config.SMS_GATEWAY_SETTINGS):
            continue  # rules of the smtp, tencent and redis backends, not of the default console and sqlite
        if key in ("SESSION_COOKIE_SECURE", "WEBHOOKS_ALLOW_INSECURE"):
            continue  # production's defaults are safe
        if key != "SECRET_KEY" or "missing" in _why:
            assert f"\n  {key} is " in str(refused.value)


@pytest.mark.parametrize(
    ("unsafe", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is missing"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is weak"),
        ({"SECRET_KEY": "s" * 40}, "SECRET_KEY is weak"),  # long, but not random
        ({"SECRET_KEY": "dev-only-not-secret"}, "SECRET_KEY is weak"),  # in the code, so public
        ({"DATABASE_URL": None}, "DATABASE_URL is missing"),
        ({"PUBLIC_URL": None}, "PUBLIC_URL is missing"),
        ({"WEBHOOKS_ALLOW_INSECURE": "yes"}, "WEBHOOKS_ALLOW_INSECURE is on"),
        ({"MAIL_BACKEND": None}, "MAIL_BACKEND is console"),  # the default
        ({"MAIL_BACKEND": "console"}, "MAIL_BACKEND is console"),
        ({"SMS_BACKEND": None}, "SMS_BACKEND is console"),
        ({"SMS_SECRET_ID": None}, "SMS_SECRET_ID is missing"),
        ({"SMS_SECRET_KEY": ""}, "SMS_SECRET_KEY is missing"),
        ({"SMS_APP_ID": None}, "SMS_APP_ID is missing"),
        ({"SMS_SIGN_NAME": None}, "SMS_SIGN_NAME is missing"),
        ({"SMS_TEMPLATES": None}, "SMS_TEMPLATES is missing"),
        ({"SMS_TEMPLATES": "registration_code=1000001"}, "SMS_TEMPLATES is incomplete"),
        ({"SMTP_USERNAME": "portal", "SMTP_PASSWORD": "pw", "SMTP_HOST": "mail.example.cn"}, "SMTP_PASSWORD is set"),
        ({"CARD_READER": None}, "CARD_READER is virtual"),
        ({"CARD_READER": "virtual"}, "CARD_READER is virtual"),
        ({"REDIS_URL": None}, "RATELIMIT_STORAGE_URI is memory://"),
        ({"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI is memory://"),
    ],
)
def test_production_refuses_each_unsafe_setting_naming_it(unsafe, message):
    environ = {**SAFE, **unsafe}
    environ = {key: value for key, value in environ.items() if value is not None}
    with pytest.raises(ConfigError) as refused:
        load_config("production", environ=environ)
    assert str(refused.value) == "production refuses to start:\n  " + _rule_text(message)


def _rule_text(start: str) -> str:
    (why,) = [why for _key, _unsafe, why in config.PRODUCTION_RULES if why.startswith(start)]
    return why


def test_production_starts_with_safe_settings():
    settings = load_config("production", environ=SAFE)
    assert (settings["MAIL_BACKEND"], settings["SMS_BACKEND"], settings["CARD_READER"]) == ("smtp", "tencent", "none")


@pytest.mark.parametrize("key", ["MAIL_BACKEND", "SMS_BACKEND", "CARD_READER"])
def test_an_unknown_backend_is_refused_in_any_environment(key):
    with pytest.raises(ConfigError, match=f"{key} must be one of"):
        load_config(environ={key: "carrier-pigeon"})


def test_production_reads_environment_and_uses_redis_for_rate_limits():
    settings = load_config("production", environ=SAFE)
    assert settings["DATABASE_URL"] == "postgresql+psycopg://db/portal"
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_unknown_environment_name_is_an_error():
    with pytest.raises(ConfigError, match="unknown PORTAL_ENV"):
        load_config("staging", environ={})


def test_malformed_integer_setting_is_an_error():
    with pytest.raises(ConfigError, match="PROXY_COUNT must be a whole number, not 'two'"):
        load_config(environ={"PROXY_COUNT": "two"})


def test_create_app_in_production_fails_fast(monkeypatch):
    from portal import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError):
        create_app("production")


PRODUCTION = {key: value for key, value in SAFE.items() if key != "PUBLIC_URL"}


def test_production_refuses_to_start_without_public_url():
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_config("production", environ=PRODUCTION)
    settings = load_config("production", environ={**PRODUCTION, "PUBLIC_URL": "https://portal.example.cn/"})
    assert settings["PUBLIC_URL"] == "https://portal.example.cn"


@pytest.mark.parametrize(
    "value",
    [
        "portal.example.cn",
        "ftp://portal.example.cn",
        "https://",
        "https://portal.example.cn/auth",
        "https://portal.example.cn/?next=x",
        "https://portal.example.cn/#x",
        "https://user@portal.example.cn",
        "https://portal.example.cn:99999",
        "https://portal.example.cn /x",
    ],
)
def test_a_malformed_public_url_is_refused_naming_the_setting(value):
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_config("production", environ={**PRODUCTION, "PUBLIC_URL": value})
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        load_config("development", environ={"PUBLIC_URL": value})


def test_development_links_point_at_make_run():
    assert load_config(environ={})["PUBLIC_URL"] == "http://127.0.0.1:5000"


def test_code_send_limits_come_from_the_environment_and_are_checked():
    settings = load_config(environ={"CODE_SEND_LIMIT_PER_HOUR": "3", "CODE_SEND_LIMIT_PER_DAY": "6"})
    assert (settings["CODE_SEND_LIMIT_PER_HOUR"], settings["CODE_SEND_LIMIT_PER_DAY"]) == (3, 6)
    assert (
        load_config(environ={})["CODE_SEND_LIMIT_PER_HOUR"],
        load_config(environ={})["CODE_SEND_LIMIT_PER_DAY"],
    ) == (
        5,
        10,
    )
    with pytest.raises(ConfigError, match="CODE_SEND_LIMIT_PER_HOUR"):
        load_config(environ={"CODE_SEND_LIMIT_PER_HOUR": "0"})
    with pytest.raises(ConfigError, match="CODE_SEND_LIMIT_PER_HOUR"):
        load_config(environ={"CODE_SEND_LIMIT_PER_HOUR": "20", "CODE_SEND_LIMIT_PER_DAY": "10"})


def test_database_time_limits_have_defaults_and_come_from_the_environment():
    defaults = load_config(environ={})
    assert (defaults["DB_LOCK_TIMEOUT_MS"], defaults["DB_STATEMENT_TIMEOUT_MS"]) == (3000, 15000)
    assert (defaults["DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"], defaults["DB_JOB_STATEMENT_TIMEOUT_MS"]) == (30000, 0)
    environ = {"DB_LOCK_TIMEOUT_MS": "1500", "DB_STATEMENT_TIMEOUT_MS": "0", "DB_JOB_STATEMENT_TIMEOUT_MS": "3600000"}
    settings = load_config(environ=environ)
    assert (settings["DB_LOCK_TIMEOUT_MS"], settings["DB_STATEMENT_TIMEOUT_MS"]) == (1500, 0)
    assert settings["DB_JOB_STATEMENT_TIMEOUT_MS"] == 3_600_000
    with pytest.raises(ConfigError, match="DB_LOCK_TIMEOUT_MS"):
        load_config(environ={"DB_LOCK_TIMEOUT_MS": "-1"})
    with pytest.raises(ConfigError, match="DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"):
        load_config(environ={"DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": "3s"})


def test_every_setting_may_come_with_the_portal_prefix_and_the_prefixed_name_wins():
    assert load_config(environ={"PORTAL_PASSWORD_MIN_LENGTH": "12"})["PASSWORD_MIN_LENGTH"] == 12
    both = {"PORTAL_PUBLIC_URL": "https://a.example.cn", "PUBLIC_URL": "https://b.example.cn"}
    assert load_config(environ=both)["PUBLIC_URL"] == "https://a.example.cn"
    assert load_config(environ={"PORTAL_REDIS_URL": "redis://c:6379/1"})["RATELIMIT_STORAGE_URI"] == "redis://c:6379/1"
    with pytest.raises(ConfigError, match="PORTAL_PROXY_COUNT"):
        load_config(environ={"PORTAL_PROXY_COUNT": "two"})


def test_an_unknown_prefixed_name_is_refused_with_the_close_one():
    with pytest.raises(
        ConfigError, match="PORTAL_PASSWORD_MIN_LENGH is not a setting .did you mean PORTAL_PASSWORD_MIN_LENGTH"
    ):
        load_config(environ={"PORTAL_PASSWORD_MIN_LENGH": "12"})
    assert load_config(environ={"PORTAL_ENV": "testing"})["ENV_NAME"] == "testing"


@pytest.mark.parametrize(("text", "value"), [("1", True), ("yes", True), ("On", True), ("0", False), ("false", False)])
def test_yes_no_settings_are_parsed(text, value):
    assert load_config(environ={"SMTP_STARTTLS": text})["SMTP_STARTTLS"] is value


def test_a_malformed_yes_no_setting_names_what_it_must_be():
    with pytest.raises(ConfigError, match="SMTP_STARTTLS must be yes or no"):
        load_config(environ={"PORTAL_SMTP_STARTTLS": "maybe"})


def test_body_limits_come_from_the_environment_and_must_be_positive():
    assert load_config(environ={})["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024
    assert load_config(environ={"PORTAL_MAX_CONTENT_LENGTH": "1000"})["MAX_CONTENT_LENGTH"] == 1000
    with pytest.raises(ConfigError, match="TERMINAL_MAX_BODY_BYTES"):
        load_config(environ={"TERMINAL_MAX_BODY_BYTES": "0"})


def test_settings_come_from_a_dot_env_file_under_the_real_environment(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(
        "# a deployment's settings\nPORTAL_PASSWORD_MIN_LENGTH=12\nPORTAL_PUBLIC_URL='https://portal.example.cn'\n"
    )
    monkeypatch.chdir(tmp_path)
    for name in ("PASSWORD_MIN_LENGTH", "PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv("PORTAL_" + name, raising=False)
    settings = load_config("development")
    assert (settings["PASSWORD_MIN_LENGTH"], settings["PUBLIC_URL"]) == (12, "https://portal.example.cn")
    monkeypatch.setenv("PORTAL_PASSWORD_MIN_LENGTH", "10")
    assert load_config("development")["PASSWORD_MIN_LENGTH"] == 10


def test_a_typo_in_the_dot_env_file_is_refused(tmp_path):
    (tmp_path / ".env").write_text("PORTAL_SECRET_KYE=abc\n")
    with pytest.raises(ConfigError, match="PORTAL_SECRET_KYE is not a setting"):
        load_config("development", environ=config.environment({}, tmp_path / ".env"))


def test_the_real_environment_wins_over_the_dot_env_file_whichever_name_each_uses(tmp_path):
    (tmp_path / ".env").write_text("PORTAL_PASSWORD_MIN_LENGTH=9\nPUBLIC_URL=https://from-file.example.cn\n")
    environ = {"PASSWORD_MIN_LENGTH": "12", "PORTAL_PUBLIC_URL": "https://from-env.example.cn"}
    settings = load_config("development", environ=config.environment(environ, tmp_path / ".env"))
    assert (settings["PASSWORD_MIN_LENGTH"], settings["PUBLIC_URL"]) == (12, "https://from-env.example.cn")


def test_tests_never_read_a_developers_dot_env(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("PORTAL_MAIL_BACKEND=smtp\nPORTAL_PASSWORD_MIN_LENGTH=12\n")
    monkeypatch.chdir(tmp_path)
    settings = load_config("testing")
    assert (settings["MAIL_BACKEND"], settings["PASSWORD_MIN_LENGTH"]) == ("console", 8)


# --- mail and SMS settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SMTP_STARTTLS": "yes", "SMTP_SSL": "yes"}, "SMTP_STARTTLS and SMTP_SSL are exclusive"),
        ({"SMTP_USERNAME": "portal"}, "SMTP_USERNAME and SMTP_PASSWORD go together"),
        ({"SMTP_TIMEOUT": "0"}, "SMTP_TIMEOUT must be 1 to 300 seconds"),
        ({"SMS_TEMPLATES": "registration_code"}, "SMS_TEMPLATES must be key=template id pairs"),
        ({"SMS_TEMPLATES": "welcome=1000003"}, "SMS_TEMPLATES: 'welcome' is not a template"),
        ({"SMS_ENDPOINT": "sms.tencentcloudapi.com"}, "SMS_ENDPOINT must be http(s)://host[:port]"),
    ],
)
def test_malformed_mail_and_sms_settings_are_refused_in_any_environment(environ, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(environ=environ)


@pytest.mark.parametrize(
    "safe",
    [
        {"SMTP_HOST": "127.0.0.1"},  # a relay on this host: the password never leaves it
        {"SMTP_HOST": "mail.example.cn", "SMTP_STARTTLS": "yes"},
        {"SMTP_HOST": "mail.example.cn", "SMTP_SSL": "yes", "SMTP_PORT": "465"},
    ],
)
def test_production_accepts_a_mail_password_over_tls_or_to_this_host(safe):
    settings = load_config("production", environ={**SAFE, "SMTP_USERNAME": "portal", "SMTP_PASSWORD": "pw", **safe})
    assert settings["SMTP_PASSWORD"] == "pw"


def test_the_gateway_settings_reach_the_backend():
    from portal.notify.web import tencent_settings

    settings = tencent_settings(load_config("production", environ={**SAFE, "SMS_TIMEOUT": "5"}))
    assert settings.templates == {"registration_code": "1000001", "recovery_link": "1000002"}
    assert (settings.app_id, settings.sign_name, settings.timeout) == ("1400000000", "中油车队", 5)
    assert settings.endpoint == "https://sms.tencentcloudapi.com" and settings.region == "ap-guangzhou"


# --- review fixes: memory storage, weak keys, jobs queue, settings from the environment ----------------


@pytest.mark.parametrize("uri", ["memory://", "MEMORY://", "Memory://", " memory://", "async+memory://", ""])
def test_production_refuses_every_spelling_of_memory_rate_limits(uri):
    with pytest.raises(ConfigError) as refused:
        load_config("production", environ={**SAFE, "RATELIMIT_STORAGE_URI": uri})
    assert str(refused.value) == "production refuses to start:\n  " + _rule_text("RATELIMIT_STORAGE_URI is memory://")


@pytest.mark.parametrize(
    "key",
    [
        "abcdefghij" * 4,  # a shorter string repeated
        "dev-only-not-secret-dev-only-not-secret",  # contains the development key
        "xx" + SECRET + "testing-secret",  # contains the tests' key
        "abcdefghijklmn" * 2 + "abcde",  # 33 characters, not a whole repeat, but only 14 different ones
    ],
)
def test_production_refuses_repetitive_or_known_secret_keys(key):
    with pytest.raises(ConfigError) as refused:
        load_config("production", environ={**SAFE, "SECRET_KEY": key})
    assert str(refused.value) == "production refuses to start:\n  " + _rule_text("SECRET_KEY is weak")


def test_jobs_queue_is_sqlite_or_redis_and_production_needs_redis_url_for_redis():
    with pytest.raises(ConfigError, match="JOBS_QUEUE must be one of sqlite, redis, not 'memory'"):
        load_config(environ={"JOBS_QUEUE": "memory"})
    with pytest.raises(ConfigError, match="JOBS_QUEUE must be one of sqlite, redis, not 'rabbit'"):
        load_config(environ={"JOBS_QUEUE": "rabbit"})
    assert load_config("testing", environ={"JOBS_QUEUE": "memory"})["JOBS_QUEUE"] == "memory"
    environ = {**SAFE, "JOBS_QUEUE": "redis", "REDIS_URL": "", "RATELIMIT_STORAGE_URI": "redis://cache:6379/1"}
    with pytest.raises(ConfigError) as refused:
        load_config("production", environ=environ)
    assert str(refused.value) == "production refuses to start:\n  " + _rule_text("JOBS_QUEUE is redis")
    assert load_config("production", environ={**SAFE, "JOBS_QUEUE": "redis"})["JOBS_QUEUE"] == "redis"


@pytest.mark.parametrize("key", config.SMS_GATEWAY_SETTINGS)
def test_production_counts_a_blank_sms_setting_as_missing(key):
    with pytest.raises(ConfigError) as refused:
        load_config("production", environ={**SAFE, key: "   "})
    assert f"\n  {key} is missing" in str(refused.value)


def test_production_refuses_a_plain_http_sms_endpoint():
    with pytest.raises(ConfigError) as refused:
        load_config("production", environ={**SAFE, "SMS_ENDPOINT": "http://sms.tencentcloudapi.com"})
    assert str(refused.value) == "production refuses to start:\n  " + _rule_text("SMS_ENDPOINT is not https://")
    assert load_config(environ={"SMS_ENDPOINT": "http://127.0.0.1:9000"})["SMS_ENDPOINT"].startswith("http://")


def test_production_refuses_an_insecure_session_cookie():
    with pytest.raises(ConfigError) as refused:
        load_config("production", environ={**SAFE, "SESSION_COOKIE_SECURE": "no"})
    assert "SESSION_COOKIE_SECURE is off" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [("90", timedelta(seconds=90)), ("90s", timedelta(seconds=90)), ("30m", timedelta(minutes=30)),
     ("72h", timedelta(hours=72)), (" 7D ", timedelta(days=7))],
)  # fmt: skip
def test_lengths_of_time_are_parsed_with_or_without_a_unit(text, value):
    settings = load_config(environ={"CHIP_LOAD_EXPIRY": text, "OUTBOX_KEEP": text, "JOB_RUNS_KEEP": text})
    assert settings["CHIP_LOAD_EXPIRY"] == settings["OUTBOX_KEEP"] == settings["JOB_RUNS_KEEP"] == value


@pytest.mark.parametrize("text", ["3 weeks", "1.5h", "-5m", "h", "72hours"])
def test_a_malformed_length_of_time_names_the_variable_and_the_forms(text):
    with pytest.raises(ConfigError, match=r"PORTAL_CHIP_LOAD_EXPIRY must be a length of time: .* 72h"):
        load_config(environ={"PORTAL_CHIP_LOAD_EXPIRY": text})


def test_settings_once_fixed_in_the_code_come_from_the_environment():
    settings = load_config(
        environ={
            "POINTS_EXPIRY_DAYS": "365", "SESSION_IDLE_TIMEOUT": "15m", "SESSION_ABSOLUTE_TIMEOUT": "8h",
            "LOSS_EFFECT_HOURS": "12", "REPLACEMENT_DAYS": "3", "OUTBOX_CLEAR_BODY_AFTER": "5m", "HSTS": "yes",
            "SESSION_COOKIE_SECURE": "yes", "EXPORT_XLSX_MAX_ROWS": "1000", "PAGE_SIZE": "20",
            "PURCHASE_ROLLUP": "no", "QUERY_MAX_DAYS": "90", "STATISTICS_MAX_MONTHS": "12",
            "MAX_AMOUNT_FEN": "500000", "DB_CONNECT_TIMEOUT_S": "3", "SQL_ECHO": "no",
        }
    )  # fmt: skip
    assert (settings["POINTS_EXPIRY_DAYS"], settings["LOSS_EFFECT_HOURS"], settings["REPLACEMENT_DAYS"]) == (365, 12, 3)
    assert settings["SESSION_IDLE_TIMEOUT"] == timedelta(minutes=15)
    assert settings["SESSION_ABSOLUTE_TIMEOUT"] == settings["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=8)
    assert settings["OUTBOX_CLEAR_BODY_AFTER"] == timedelta(minutes=5) and settings["HSTS"] is True
    assert (settings["EXPORT_XLSX_MAX_ROWS"], settings["PAGE_SIZE"], settings["PURCHASE_ROLLUP"]) == (1000, 20, False)
    assert (settings["QUERY_MAX_DAYS"], settings["STATISTICS_MAX_MONTHS"], settings["MAX_AMOUNT_FEN"]) == (
        90,
        12,
        500000,
    )
    assert settings["DB_CONNECT_TIMEOUT_S"] == 3 and settings["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PAGE_SIZE": "0"}, "PAGE_SIZE must be 1 to 500, not 0"),
        ({"PAGE_SIZE": "501"}, "PAGE_SIZE must be 1 to 500, not 501"),
        ({"MAX_AMOUNT_FEN": "0"}, "MAX_AMOUNT_FEN must be 1 to"),
        ({"EXPORT_XLSX_MAX_ROWS": "2000000"}, "EXPORT_XLSX_MAX_ROWS must be 1 to 1048575"),
        ({"POINTS_EXPIRY_DAYS": "0"}, "POINTS_EXPIRY_DAYS must be 1 to"),
        ({"DB_CONNECT_TIMEOUT_S": "0"}, "DB_CONNECT_TIMEOUT_S must be 1 to 300"),
        ({"CHIP_LOAD_EXPIRY": "0"}, "CHIP_LOAD_EXPIRY must be more than zero"),
        ({"OUTBOX_KEEP": "0d"}, "OUTBOX_KEEP must be more than zero"),
        ({"SESSION_IDLE_TIMEOUT": "13h"}, "SESSION_IDLE_TIMEOUT must not be longer than SESSION_ABSOLUTE_TIMEOUT"),
    ],
)
def test_a_setting_out_of_its_range_is_refused_naming_it(environ, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(environ=environ)


def test_every_setting_of_the_code_is_settable_or_left_out_on_purpose():
    """A new upper-case setting must be decided on: settable (in _ENV_SETTINGS and the README's table)
    or listed in config.py's comment as the code's own."""
    source = Path(config.__file__).read_text(encoding="utf-8")
    left_out = source.split("#: Left out on purpose", 1)[1].split("_ENV_SETTINGS", 1)[0]
    for key in dir(config.Config):
        if key.isupper() and key not in config._ENV_SETTINGS:
            assert key in left_out, f"{key}: add it to _ENV_SETTINGS or say why it is left out"


def test_webhook_secret_key_must_be_a_fernet_key():
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    assert load_config("testing", environ={"PORTAL_WEBHOOK_SECRET_KEY": key})["WEBHOOK_SECRET_KEY"] == key
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET_KEY must be a Fernet key"):
        load_config("testing", environ={"PORTAL_WEBHOOK_SECRET_KEY": "not-a-key"})
    with pytest.raises(ConfigError, match="WEBHOOKS_TIMEOUT must be 1 to 60"):
        load_config("testing", environ={"PORTAL_WEBHOOKS_TIMEOUT": "0"})
