"""Flask extensions and the request-scoped database session. Created unbound; create_app binds them."""

from __future__ import annotations

import ipaddress

from flask import Flask, current_app, g
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session

from portal.clock import SystemClock
from portal.db import Base, make_engine, make_sessionmaker


class Database:
    """One engine per app; one session per app context (request or CLI command).

    Views call services with `db.session` and commit once at the end of the user action. The
    session is closed (rolling back anything uncommitted) when the context ends.
    """

    metadata = Base.metadata

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"], echo=app.config.get("SQL_ECHO", False))
        app.extensions["portal.db"] = (engine, make_sessionmaker(engine))
        app.teardown_appcontext(self._close)

    @property
    def engine(self):
        return current_app.extensions["portal.db"][0]

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = current_app.extensions["portal.db"][1]()
        return g.db_session

    @staticmethod
    def _close(_exc) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


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
