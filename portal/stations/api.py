"""The terminal API: JSON over HTTP under /api/terminal/v1, authenticated by an API key header
(`Authorization: Bearer <key>` or `X-Terminal-Key`), never by cookies, hence CSRF-exempt.

Bodies are validated by the pydantic models of portal.stations.api_schema, the same models its
published OpenAPI document (/api/terminal/v1/openapi.json) is built from.

Every bad request gets a 4xx `{"error": {"code", "message", "detail"}}` and changes nothing; a request the
database could not serve in time (a lock held too long, a statement over its limit) gets a 503
`busy_retry` with Retry-After, and also changes nothing. Bodies are
bounded (64 KiB) before they are read; failed key checks are limited per address and requests per
terminal (429 with Retry-After), in the rate limiter's shared storage. Answers and
messages are in the terminal's `language` ("zh_CN" default, or "en").
"""

from __future__ import annotations

import math
import time
from typing import TypeVar

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import force_locale
from limits import parse as parse_limit
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from portal import idempotency, ledger
from portal.chips.reader import ReaderError
from portal.chips.virtual import follow_online
from portal.extensions import client_ip, clock, csrf, db, limiter
from portal.ops import metrics
from portal.purchases.authorization import Answer, AuthorizationError, PurchaseRequest, authorize
from portal.purchases.refunds import refund
from portal.reference.models import Station
from portal.stations import api_schema, messages
from portal.stations.services import redeem_at_station
from portal.stations.terminals import terminal_for_key
from portal.web.errors import Busy

bp = Blueprint("terminal_api", __name__, url_prefix="/api/terminal/v1")
csrf.exempt(bp)
#: Exempt from the limiter's per-request bookkeeping for pages: the terminal API has its own limits
#: (failed keys per address, requests per terminal), checked in `_authenticate`.
limiter.exempt(bp)


M = TypeVar("M", bound=BaseModel)


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


def _parse(model: type[M]) -> M:
    """The body, validated by its model (portal.stations.api_schema: the published schema). A null
    field counts as absent; the first refused field answers 400 with the API's own code."""
    try:
        return model.model_validate({name: value for name, value in _body().items() if value is not None})
    except ValidationError as exc:
        raise BadRequest(*api_schema.refusal(exc)) from None


def _check_station(code: str | None) -> None:
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
@api_schema.spec.validate(
    json=api_schema.PurchaseBody,
    query=api_schema.LanguageQuery,
    resp=api_schema.answers(api_schema.PurchaseAnswer, 400, 401, 404, 409, 413, 422, 429, 503),
    tags=["terminal"],
    skip_validation=True,  # `_parse` validates with the same model (see portal.stations.api_schema)
)
def purchases():
    """Authorize a purchase

    Approve (the card's chip purse is debited) or decline with a reason: both answer 200.
    """
    body = _parse(api_schema.PurchaseBody)
    purchase_request = PurchaseRequest(
        card_number=body.card_number,
        product_code=body.product_code,
        litres_ml=body.litres_ml,
        unit_price_fen=body.unit_price_fen,
        amount_fen=body.amount_fen,
        terminal_seq=body.terminal_seq,
        at=body.at,
        plate=body.plate or "",
        odometer_km=body.odometer_km,
    )
    _check_station(body.station_code)
    answer = idempotency.answer_once(
        db.session, lambda: _chip_follows(authorize(db.session, g.terminal, purchase_request, now=clock().now()))
    )
    db.session.commit()
    if not answer.replayed:  # a replay answers the same authorization again
        metrics.authorization_answered(answer.approved, answer.code)
    return _answer(answer)


@bp.post("/refunds")
@api_schema.spec.validate(
    json=api_schema.RefundBody,
    query=api_schema.LanguageQuery,
    resp=api_schema.answers(api_schema.PurchaseAnswer, 400, 401, 404, 409, 413, 429, 503),
    tags=["terminal"],
    skip_validation=True,
)
def refunds():
    """Refund a purchase

    Give back a whole approved purchase made at this terminal's station; the answer is the refund's.
    """
    body = _parse(api_schema.RefundBody)
    answer = idempotency.answer_once(
        db.session,
        lambda: _chip_follows(
            refund(
                db.session, g.terminal, purchase_id=body.purchase_id, terminal_seq=body.terminal_seq, now=clock().now()
            )
        ),
    )
    db.session.commit()
    return _answer(answer)


@bp.post("/redemptions")
@api_schema.spec.validate(
    json=api_schema.RedemptionBody,
    query=api_schema.LanguageQuery,
    resp=api_schema.answers(api_schema.RedemptionAnswer, 400, 401, 404, 409, 413, 422, 429, 503),
    tags=["terminal"],
    skip_validation=True,
)
def redemptions():
    """Redeem points

    Redeem a card's points for a voucher (default 1,000 points = 10 yuan).
    """
    body = _parse(api_schema.RedemptionBody)
    result = idempotency.answer_once(
        db.session,
        lambda: redeem_at_station(
            db.session,
            g.terminal,
            card_number=body.card_number,
            points_amount=body.points,
            terminal_seq=body.terminal_seq,
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
