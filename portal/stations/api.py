"""The terminal API: JSON over HTTP under /api/terminal/v1, authenticated by an API key header
(`Authorization: Bearer <key>` or `X-Terminal-Key`), never by cookies, hence CSRF-exempt.

Every bad request gets a 4xx `{"error": {"code", "message"}}` and changes nothing; a request the
database could not serve in time (a lock held too long, a statement over its limit) gets a 503
`busy_retry` with Retry-After, and also changes nothing. Bodies are
bounded (64 KiB) before they are read; failed key checks are limited per address and requests per
terminal (429 with Retry-After), in the rate limiter's shared storage. Answers and
messages are in the terminal's `language` ("zh_CN" default, or "en").
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import force_locale
from limits import parse as parse_limit
from werkzeug.exceptions import RequestEntityTooLarge

from portal import idempotency, ledger
from portal.chips.reader import ReaderError
from portal.chips.virtual import follow_online
from portal.extensions import client_ip, clock, csrf, db, limiter
from portal.ops import metrics
from portal.purchases.authorization import Answer, AuthorizationError, PurchaseRequest, authorize
from portal.purchases.refunds import refund
from portal.reference.models import Station
from portal.stations import messages
from portal.stations.services import redeem_at_station
from portal.stations.terminals import terminal_for_key
from portal.web.errors import Busy

bp = Blueprint("terminal_api", __name__, url_prefix="/api/terminal/v1")
csrf.exempt(bp)
#: Exempt from the limiter's per-request bookkeeping for pages: the terminal API has its own limits
#: (failed keys per address, requests per terminal), checked in `_authenticate`.
limiter.exempt(bp)


class BadRequest(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _json() -> dict | None:
    """The request's JSON object, or None if it is not one (malformed, too large, or nested too deep
    to parse)."""
    try:
        body = request.get_json(silent=True)
    except (RecursionError, RequestEntityTooLarge):  # nested thousands deep, or over the body limit
        return None
    return body if isinstance(body, dict) else None


def _too_large() -> bool:
    limit = request.max_content_length
    return limit is not None and request.content_length is not None and request.content_length > limit


def _language() -> str:
    body = _json()
    wanted = body.get("language") if body is not None else None
    wanted = wanted or request.args.get("language")
    return wanted if wanted in current_app.config["LANGUAGES"] else "zh_CN"


def _error(code: str, message: str, status: int):
    db.session.rollback()
    with force_locale(_language()):
        text = messages.error_message(code, message)
    response = jsonify({"error": {"code": code, "message": text, "detail": message}})
    return response, status


@bp.errorhandler(BadRequest)
@bp.errorhandler(AuthorizationError)
def _refused(error):
    return _error(error.code, error.message, error.status)


@bp.errorhandler(ledger.LedgerError)
def _ledger_refused(error):
    return _error("ledger_refused", str(error), 409)


@bp.errorhandler(Busy)
def _busy(error: Busy):
    """The database gave up waiting (portal.web.errors maps it): nothing was recorded, so the
    terminal sends the same request (same terminal_seq) again after Retry-After."""
    response, status = _error(
        "busy_retry", "the database is busy; nothing was changed, send the same request again", 503
    )
    response.headers["Retry-After"] = str(error.retry_after)
    return response, status


#: A terminal request's body, at most (a purchase is a few hundred bytes); larger ones are refused
#: before anything reads them.
MAX_BODY_BYTES = 64 * 1024
#: Failed key checks per client address, and requests per terminal (config may override either).
AUTH_FAILURE_LIMIT = "20 per minute"
TERMINAL_REQUEST_LIMIT = "600 per minute"


@bp.before_request
def _authenticate():
    # Set first: from here on nothing (not even choosing the error's language) reads a larger body.
    request.max_content_length = current_app.config.get("TERMINAL_MAX_BODY_BYTES", MAX_BODY_BYTES)
    if _too_large():
        return _error("body_too_large", f"the body may be at most {request.max_content_length} bytes", 413)
    failures = ("terminal-auth-failures", client_ip())
    refused = _over_limit("TERMINAL_AUTH_FAILURE_LIMIT", AUTH_FAILURE_LIMIT, failures, count=False)
    if refused is not None:
        return refused
    header = request.headers.get("Authorization", "")
    key = header[7:].strip() if header.startswith("Bearer ") else request.headers.get("X-Terminal-Key")
    terminal = terminal_for_key(db.session, key)
    if terminal is None:
        _over_limit("TERMINAL_AUTH_FAILURE_LIMIT", AUTH_FAILURE_LIMIT, failures)
        return _error("unauthorized", "missing, unknown or revoked API key", 401)
    g.terminal = terminal
    return _over_limit("TERMINAL_REQUEST_LIMIT", TERMINAL_REQUEST_LIMIT, ("terminal-requests", str(terminal.id)))


def _over_limit(setting: str, default: str, key: tuple[str, str], *, count: bool = True):
    """None while `key` is within the limit (counting this request when `count`); else a 429 with
    Retry-After. Uses the rate limiter's storage (Redis in production, so all workers share it); a
    storage outage lets the request through with a warning rather than stopping the pumps."""
    if not limiter.enabled:
        return None
    item = parse_limit(current_app.config.get(setting, default))
    key = (current_app.config.get("RATELIMIT_KEY_PREFIX", ""), *key)  # deployments sharing a Redis stay apart
    try:
        allowed = limiter.limiter.hit(item, *key) if count else limiter.limiter.test(item, *key)
        reset_at = None if allowed else limiter.limiter.get_window_stats(item, *key).reset_time
    except Exception:  # noqa: BLE001  (any storage error: fail open, loudly)
        current_app.logger.warning("terminal API rate limit storage unavailable; request let through")
        return None
    if allowed:
        return None
    response, status = _error("rate_limited", f"too many requests ({item})", 429)
    response.headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
    return response, status


#: The largest integer a field may carry: the database's BIGINT.
MAX_INT = 2**63 - 1
#: Times a terminal may send: a purchase happens in this century (date arithmetic overflows near
#: the years 1 and 9999; the clock-skew check refuses the rest).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099


def _body() -> dict:
    body = _json()
    if body is None:
        try:
            request.get_data(cache=True)  # a body over the limit raises here (one without a length too)
        except RequestEntityTooLarge:
            raise BadRequest(
                "body_too_large", f"the body may be at most {request.max_content_length} bytes", 413
            ) from None
        raise BadRequest("malformed_json", "the body must be a JSON object")
    return body


def _int(body: dict, name: str, *, required: bool = True, minimum: int = 0) -> int | None:
    if name not in body or body[name] is None:
        if required:
            raise BadRequest("missing_field", f"{name} is required")
        return None
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("bad_field", f"{name} must be an integer")
    if value < minimum:
        raise BadRequest("out_of_range", f"{name} must be at least {minimum}")
    if value > MAX_INT:
        raise BadRequest("out_of_range", f"{name} must be at most {MAX_INT}")
    return value


def _str(body: dict, name: str, *, required: bool = True, max_length: int = 32) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest("missing_field", f"{name} is required")
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise BadRequest("bad_field", f"{name} must be a string of at most {max_length} characters")
    if "\x00" in value:  # PostgreSQL cannot store or compare a NUL
        raise BadRequest("bad_field", f"{name} must not contain a NUL character")
    return value.strip()


def _time(body: dict, name: str) -> datetime:
    value = _str(body, name, max_length=40)
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("bad_field", f"{name} must be an ISO 8601 time with a timezone") from None
    if at.tzinfo is None:
        raise BadRequest("bad_field", f"{name} must include a timezone")
    if not EARLIEST_YEAR <= at.year <= LATEST_YEAR:
        raise BadRequest("out_of_range", f"{name} must be a time between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return at.astimezone(UTC)


def _check_station(body: dict) -> None:
    code = _str(body, "station_code", required=False)
    if not code:
        return
    station = db.session.get(Station, g.terminal.station_id)
    if station is None or station.code != code:
        exists = db.session.query(Station.id).filter(Station.code == code).first()
        raise BadRequest(
            "station_mismatch" if exists else "unknown_station", f"station {code!r}", 404 if not exists else 409
        )


def _answer(answer: Answer):
    purchase = answer.purchase
    with force_locale(_language()):
        message = messages.decline_message(purchase.decline_code)
    return jsonify(
        {
            "approved": answer.approved,
            "code": answer.code,
            "message": message,
            "purchase_id": purchase.id,
            "kind": purchase.kind,
            "amount_fen": purchase.amount_fen,
            "points": purchase.points,
            "balance_fen": purchase.balance_after_fen,
            "replayed": answer.replayed,
        }
    )


def _chip_follows(answer: Answer) -> Answer:
    """With the virtual reader (development), the pump's part of the answer: the card's chip is
    debited for an approved purchase and credited for a refund (portal.chips.virtual), in the same
    transaction. A chip the pump would refuse undoes the answer (409 chip_refused)."""
    if current_app.config.get("CARD_READER") == "virtual":
        try:
            follow_online(db.session, answer, now=clock().now())
        except ReaderError as exc:
            raise AuthorizationError("chip_refused", str(exc), 409) from exc
    return answer


@bp.post("/purchases")
def purchases():
    """Authorize a purchase: approve (the chip purse is debited) or decline with a reason."""
    body = _body()
    purchase_request = PurchaseRequest(
        card_number=_str(body, "card_number", max_length=32),
        product_code=_str(body, "product_code", max_length=8),
        litres_ml=_int(body, "litres_ml", minimum=1),
        unit_price_fen=_int(body, "unit_price_fen", minimum=1),
        amount_fen=_int(body, "amount_fen", minimum=1),
        terminal_seq=_int(body, "terminal_seq"),
        at=_time(body, "at"),
        plate=_str(body, "plate", required=False, max_length=16),
        odometer_km=_int(body, "odometer_km", required=False),
    )
    _check_station(body)
    answer = idempotency.answer_once(
        db.session, lambda: _chip_follows(authorize(db.session, g.terminal, purchase_request, now=clock().now()))
    )
    db.session.commit()
    if not answer.replayed:  # a replay answers the same authorization again
        metrics.authorization_answered(answer.approved, answer.code)
    return _answer(answer)


@bp.post("/refunds")
def refunds():
    """Refund a whole purchase made at this station."""
    body = _body()
    purchase_id = _int(body, "purchase_id", minimum=1)
    seq = _int(body, "terminal_seq")
    answer = idempotency.answer_once(
        db.session,
        lambda: _chip_follows(
            refund(db.session, g.terminal, purchase_id=purchase_id, terminal_seq=seq, now=clock().now())
        ),
    )
    db.session.commit()
    return _answer(answer)


@bp.post("/redemptions")
def redemptions():
    """Redeem points for a voucher (default 1,000 points = 10 yuan)."""
    body = _body()
    card_number, points_amount = _str(body, "card_number", max_length=32), _int(body, "points", minimum=1)
    seq = _int(body, "terminal_seq")
    result = idempotency.answer_once(
        db.session,
        lambda: redeem_at_station(
            db.session,
            g.terminal,
            card_number=card_number,
            points_amount=points_amount,
            terminal_seq=seq,
            now=clock().now(),
        ),  # fmt: skip
    )
    db.session.commit()
    return jsonify(
        {
            "redemption_id": result.redemption.id,
            "points": result.redemption.points,
            "value_fen": result.redemption.value_fen,
            "points_balance": result.balance_after,
            "replayed": result.replayed,
        }
    )
