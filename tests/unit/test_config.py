import pytest

from config import ConfigError, load_config


def test_development_is_the_default():
    settings = load_config(environ={})
    assert settings["ENV_NAME"] == "development"
    assert settings["BABEL_DEFAULT_LOCALE"] == "zh_CN"
    assert settings["RATELIMIT_STORAGE_URI"] == "memory://"


def test_production_refuses_to_start_without_secret_and_database():
    with pytest.raises(ConfigError, match="SECRET_KEY and DATABASE_URL"):
        load_config("production", environ={})
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_config("production", environ={"SECRET_KEY": "x" * 40})


def test_production_refuses_a_weak_secret():
    with pytest.raises(ConfigError, match="32"):
        load_config("production", environ={"SECRET_KEY": "short", "DATABASE_URL": "postgresql+psycopg://h/db"})


def test_production_reads_environment_and_uses_redis_for_rate_limits():
    settings = load_config(
        "production",
        environ={
            "SECRET_KEY": "s" * 40,
            "DATABASE_URL": "postgresql+psycopg://db/portal",
            "REDIS_URL": "redis://cache:6379/0",
            "PUBLIC_URL": "https://portal.example.cn",
        },
    )
    assert settings["DATABASE_URL"] == "postgresql+psycopg://db/portal"
    assert settings["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_unknown_environment_name_is_an_error():
    with pytest.raises(ConfigError, match="unknown PORTAL_ENV"):
        load_config("staging", environ={})


def test_malformed_integer_setting_is_an_error():
    with pytest.raises(ConfigError, match="PROXY_COUNT"):
        load_config(environ={"PROXY_COUNT": "two"})


def test_create_app_in_production_fails_fast(monkeypatch):
    from portal import create_app

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError):
        create_app("production")


PRODUCTION = {"SECRET_KEY": "s" * 40, "DATABASE_URL": "postgresql+psycopg://db/portal"}


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
