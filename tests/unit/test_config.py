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
