"""Flask extensions and the request-scoped database session. Created unbound; create_app binds them."""

from __future__ import annotations

import ipaddress

from flask import Flask, current_app, g, has_request_context
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session

from portal.clock import SystemClock
from portal.db import DEFAULT_CONNECT_TIMEOUT_S, Base, Timeouts, make_engine, make_sessionmaker


class Database:
    """One engine per app for requests and one for work outside a request; one session per app context.

    Views call services with `db.session` and commit once at the end of the user action. The
    session is closed (rolling back anything uncommitted) when the context ends.

    Pages and the terminal API run under the web time limits (DB_LOCK_TIMEOUT_MS,
    DB_STATEMENT_TIMEOUT_MS, DB_IDLE_IN_TRANSACTION_TIMEOUT_MS); CLI commands, migrations and other
    work in an app context without a request (`ledger verify`, `points expire`, `statistics
    rebuild-rollup`) use the jobs engine: the same lock timeout, DB_JOB_STATEMENT_TIMEOUT_MS and no
    idle limit, unpooled (a command holds one connection for its run). SQLite has no such limits
    (its busy timeout is set in portal.db): one engine serves both.
    """

    metadata = Base.metadata

    def init_app(self, app: Flask) -> None:
        url, echo = app.config["DATABASE_URL"], app.config.get("SQL_ECHO", False)
        connect = app.config.get("DB_CONNECT_TIMEOUT_S", DEFAULT_CONNECT_TIMEOUT_S)
        web = make_engine(url, echo=echo, timeouts=web_timeouts(app.config), connect_timeout_s=connect)
        app.extensions["portal.db"] = (web, make_sessionmaker(web))
        if web.dialect.name == "sqlite":
            app.extensions["portal.db.jobs"] = app.extensions["portal.db"]
        else:
            jobs = make_engine(
                url, echo=echo, timeouts=job_timeouts(app.config), pooled=False, connect_timeout_s=connect
            )
            app.extensions["portal.db.jobs"] = (jobs, make_sessionmaker(jobs))
        app.teardown_appcontext(self._close)

    @staticmethod
    def _kind() -> str:
        return "portal.db" if has_request_context() else "portal.db.jobs"

    @property
    def engine(self):
        """The app's engine: the one requests use (and what tests watch)."""
        return current_app.extensions["portal.db"][0]

    @property
    def jobs(self) -> JobsDatabase:
        """The jobs engine, as Flask-Migrate wants a database: migrations run under the CLI's limits."""
        return JobsDatabase()

    @property
    def session(self) -> Session:
        # The context's first use picks the engine. A request pushes its own app context, except in
        # tests that send one inside theirs: the request then shares the test's session, as it did
        # before there were two engines (on SQLite a second session would wait for the first).
        if "db_session" not in g:
            g.db_session = current_app.extensions[self._kind()][1]()
        return g.db_session

    @staticmethod
    def _close(_exc) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


class JobsDatabase:
    """`metadata` and `engine` (the jobs engine) for Flask-Migrate."""

    metadata = Base.metadata

    @property
    def engine(self):
        return current_app.extensions["portal.db.jobs"][0]


def web_timeouts(config) -> Timeouts:
    """The limits for pages and the terminal API."""
    return Timeouts(
        lock_ms=config["DB_LOCK_TIMEOUT_MS"],
        statement_ms=config["DB_STATEMENT_TIMEOUT_MS"],
        idle_in_transaction_ms=config["DB_IDLE_IN_TRANSACTION_TIMEOUT_MS"],
    )


def job_timeouts(config) -> Timeouts:
    """The limits for CLI commands and other work outside a request: long statements are their job."""
    return Timeouts(lock_ms=config["DB_LOCK_TIMEOUT_MS"], statement_ms=config["DB_JOB_STATEMENT_TIMEOUT_MS"])


def clock():
    """The app's clock (tests install a FrozenClock as app.extensions['portal.clock'])."""
    return current_app.extensions.setdefault("portal.clock", SystemClock())


#: Longest address the audit and session tables store (an IPv6 address written out in full).
MAX_IP_LENGTH = 45


def client_ip() -> str:
    """The client's address (behind PROXY_COUNT proxies, the one they forwarded); "" when that is
    not an IP address, as when a proxy passes a client's own junk X-Forwarded-For on."""
    from flask import request

    address = request.remote_addr or ""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return ""
    return address if len(address) <= MAX_IP_LENGTH else ""


db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
migrate = Migrate()
limiter = Limiter(key_func=client_ip, default_limits=[])
