"""The Flask side of operations: /healthz, /readyz and /metrics, the request id, and one JSON log
line per request.

- `/healthz`: the process answers (touches nothing). `/readyz`: database, migrations at head and the
  limiter's Redis (portal.ops.health); 503 with the failed check named otherwise. Both public, both
  read-only. `/metrics`: Prometheus text, only for addresses in METRICS_ALLOW (default loopback) or
  with `Authorization: Bearer <METRICS_TOKEN>`; 404 to anyone else, so it does not show it exists.
- The request id: a client's X-Request-ID is kept if short and plain (`SAFE_REQUEST_ID`), else a new
  one is made; it is sent back in X-Request-ID, shown on error pages and put on every log line of
  the request, so support can find the line from what the user sees.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import time
import uuid

from flask import Blueprint, Flask, Response, abort, current_app, g, has_request_context, jsonify, request
from flask.logging import default_handler
from flask.signals import request_started

from config import ConfigError
from portal.extensions import clock, db, limiter
from portal.jobs import status as job_status
from portal.ops import health, logs
from portal.ops import metrics as prom
from portal.web.access import PUBLIC, guard, requires

bp = guard(Blueprint("ops", __name__))
limiter.exempt(bp)

#: A request id from the client is kept only if it looks like this (a UUID, a proxy's hex id...).
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
REQUEST_ID_HEADER = "X-Request-ID"

request_log = logging.getLogger("portal.request")


def request_id() -> str:
    """This request's id: the client's X-Request-ID if it is short and safe, else a new random one."""
    if "request_id" not in g:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = offered if SAFE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
    return g.request_id


@bp.get("/healthz")
@requires(PUBLIC)
def healthz():
    """Alive: the process answers requests. Reads nothing."""
    return jsonify(status="ok")


@bp.get("/readyz")
@requires(PUBLIC)
def readyz():
    """Ready to serve: each check's result by name; 503 if any failed. No error texts, no settings."""
    result = health.readiness(db.session, current_app.config.get("RATELIMIT_STORAGE_URI"))
    db.session.rollback()
    return jsonify(status="ready" if result.ready else "not ready", checks=result.checks), 200 if result.ready else 503


@bp.get("/metrics")
@requires(PUBLIC)  # not a session permission: the address or the bearer token decides (`may_scrape`)
def metrics():
    """Prometheus metrics, for the monitoring system only; 404 to anyone else."""
    if not may_scrape():
        abort(404)
    try:
        backlog = prom.outbox_backlog(db.session)
        jobs = job_status.figures(db.session, clock().now())
    except Exception:  # noqa: BLE001  (the other metrics matter most when the database is down)
        current_app.logger.warning("metrics: outbox backlog or job runs not readable", exc_info=True)
        db.session.rollback()
        backlog = jobs = None
    body = prom.exposition(backlog, jobs)
    return Response(body, content_type=prom.CONTENT_TYPE)


def allowed_networks(setting: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """METRICS_ALLOW: addresses or networks, separated by commas or spaces."""
    return [ipaddress.ip_network(item, strict=False) for item in re.split(r"[,\s]+", setting.strip()) if item]


def may_scrape() -> bool:
    """The client's address is allowed, or it sent the configured bearer token."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in allowed_networks(current_app.config.get("METRICS_ALLOW", "")))


def _started(_app: Flask, **_extra) -> None:
    g.request_started_at = time.perf_counter()


def _who() -> dict:
    """The signed-in user and their customer, if this request already loaded them (never loads: that
    would read, and may touch, the session store on requests that need no user)."""
    signed_in = g.get("_login_user")
    user = getattr(signed_in, "user", None)
    if user is None:
        return {"user_id": None, "customer_id": None}
    return {"user_id": user.id, "customer_id": user.customer_id, "role": user.role}


def _finish(response: Response) -> Response:
    """Send the request id back, count the request, write its log line."""
    response.headers[REQUEST_ID_HEADER] = request_id()
    seconds = time.perf_counter() - g.get("request_started_at", time.perf_counter())
    prom.observe_request(request.endpoint, request.method, response.status_code, seconds)
    request_log.info(
        "%s %s %s",
        request.method,
        request.endpoint or "none",
        response.status_code,
        extra={
            "method": request.method,
            "endpoint": request.endpoint,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
            "path": request.path,  # redacted like the rest: a reset link's token never reaches the log
            "remote_addr": request.remote_addr,
            **_who(),
        },
    )
    return response


class RequestContextFilter(logging.Filter):
    """Puts the request id and endpoint on every log record made while a request is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = request_id()
            if not hasattr(record, "endpoint"):
                record.endpoint = request.endpoint
        return True


def check_settings(config) -> None:
    """LOG_FORMAT, LOG_LEVEL and METRICS_ALLOW, checked when the app starts rather than at the first scrape."""
    if config.get("LOG_FORMAT") not in ("json", "text", "", None):
        raise ConfigError(f"LOG_FORMAT must be json, text or empty, not {config['LOG_FORMAT']!r}")
    if str(config.get("LOG_LEVEL", "INFO")).upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {config['LOG_LEVEL']!r}")
    try:
        allowed_networks(config.get("METRICS_ALLOW", ""))
    except ValueError:
        raise ConfigError(
            f"METRICS_ALLOW must be addresses or networks separated by commas, not {config['METRICS_ALLOW']!r}"
        ) from None


def register_ops(app: Flask) -> None:
    """The routes, the request id and the request log line; JSON logging unless LOG_FORMAT is empty."""
    check_settings(app.config)
    if app.config.get("LOG_FORMAT"):
        logs.configure(level=app.config["LOG_LEVEL"], fmt=app.config["LOG_FORMAT"], filters=(RequestContextFilter(),))
        app.logger.removeHandler(default_handler)  # the root's handler writes Flask's lines too
    app.register_blueprint(bp)
    request_started.connect(_started, app)
    app.after_request(_finish)
