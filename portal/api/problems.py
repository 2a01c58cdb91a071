"""Every error of the customer API as RFC 9457 `application/problem+json`, with a stable `code`.

    {"type": "https://portal.example.cn/api/v1/problems/insufficient_funds",
     "title": "Conflict", "status": 409, "code": "insufficient_funds",
     "detail": "the unit account has 120.00 available", "instance": "/api/v1/allocations"}

- In a view, refuse with `raise ApiProblem(404, "card_not_found", "no such card")`.
- The rules' typed errors (ledger, cards, funds, loads, points, drivers...) need no try/except in
  a view: `ERRORS` below, the one table from error class to (status, code), turns them into
  problems (409 for a state the request conflicts with, 422 for input the rules refuse). An error
  class that carries its own `code` (and `status`) keeps it.
- Validation errors (spectree/pydantic) answer 422 `validation_failed` with `errors`: one
  `{"field": "query.limit", "message": "..."}` per failing field. Malformed JSON is 400
  `malformed_json`, a body that is not JSON 415, one over the limit 413, an unknown URL 404, a wrong
  method 405, a unique index tripped by a race 409 `conflict`, the database busy 503 `busy_retry`
  with Retry-After (nothing was changed), anything unexpected 500 `internal_error` whose detail never says what went wrong (the log does).

`type` is built from PUBLIC_URL (`<PUBLIC_URL>/api/v1/problems/<code>`), so it is stable across
deployments of one portal; clients should branch on `code`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, json, request
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from portal.apikeys.services import ApiKeyError
from portal.cards import errors as card_errors
from portal.chips.loads import LoadError
from portal.chips.reader import ReaderError
from portal.db import is_busy
from portal.drivers import services as drivers
from portal.extensions import db
from portal.funds.plan import PlanRejected
from portal.funds.services import FundsError
from portal.ledger import errors as ledger
from portal.money import AmountError
from portal.points.services import PointsError
from portal.purchases.authorization import AuthorizationError
from portal.queries.cursor import BadCursor
from portal.queries.filters import FilterError
from portal.queries.purchases import UnknownReference
from portal.queries.scope import UnknownCard
from portal.queries.statements import BadMonth
from portal.rewards.services import RewardError

MEDIA_TYPE = "application/problem+json"
#: Seconds a client waits before sending a request again after 503 busy_retry (as portal.web.errors).
BUSY_RETRY_AFTER_SECONDS = 2
PREFIX = "/api/v1"
#: The detail of 400 `nul_character` (a NUL in the path, a query parameter or the body).
NUL_DETAIL = "strings must not contain a NUL character"

#: status -> the problem's title (short, stable, English; `detail` says what happened).
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
#: The code of an HTTP error raised without one (werkzeug's abort, routing).
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    503: "busy_retry",
}


class FieldError(BaseModel):
    field: str = Field(description="where: path.<name>, query.<name>, header.<name> or body.<dotted path>")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem; `code` is the stable machine-readable reason."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str
    errors: list[FieldError] | None = None


class ApiProblem(Exception):
    """Raise in an API view (or a helper it calls) to answer a problem."""

    def __init__(self, status: int, code: str, detail: str = "", *, headers: dict[str, str] | None = None, **extra):
        super().__init__(detail or code)
        self.status, self.code, self.detail = status, code, detail or TITLES.get(status, code)
        self.headers, self.extra = headers or {}, extra


#: Error class -> (status, code). None for the code: the error's own `code` attribute. A class not
#: listed uses its nearest listed base class. An error with a `status` attribute keeps its status.
ERRORS: dict[type[Exception], tuple[int, str | None]] = {
    # the ledger
    ledger.LedgerError: (409, "ledger_refused"),
    ledger.InsufficientFunds: (409, "insufficient_funds"),
    ledger.AccountFrozen: (409, "account_frozen"),
    ledger.AccountClosed: (409, "account_closed"),
    ledger.IdempotencyConflict: (409, "idempotency_conflict"),
    ledger.PendingAlreadyResolved: (409, "already_resolved"),
    ledger.PendingExpired: (409, "pending_expired"),
    ledger.AlreadyReversed: (409, "already_reversed"),
    ledger.InvalidAmount: (422, "invalid_amount"),
    ledger.InvalidTransfer: (422, "invalid_transfer"),
    ledger.SameAccount: (422, "same_account"),
    ledger.LedgerMismatch: (422, "ledger_mismatch"),
    ledger.NotReversible: (422, "not_reversible"),
    ledger.UnknownAccount: (404, "account_not_found"),
    ledger.ForeignAccount: (404, "account_not_found"),  # another customer's: as if it did not exist
    ledger.PendingNotFound: (404, "pending_not_found"),
    ledger.TransferNotFound: (404, "transfer_not_found"),
    # cards (each error class has its code)
    card_errors.CardError: (409, None),
    card_errors.CardNotFound: (404, None),
    card_errors.InvalidControls: (422, None),
    card_errors.NotOwned: (422, None),
    card_errors.PasswordNotConfirmed: (422, None),
    # drivers and vehicles
    drivers.DriverError: (422, None),
    drivers.UsernameTaken: (409, None),
    drivers.PlateTaken: (409, None),
    # money movements, chips, points
    FundsError: (409, None),
    PlanRejected: (422, "plan_rejected"),
    LoadError: (409, None),
    ReaderError: (409, None),
    RewardError: (409, None),
    PointsError: (422, None),
    AuthorizationError: (422, None),
    AmountError: (422, "invalid_amount"),
    ApiKeyError: (422, None),
    # queries
    BadCursor: (400, "bad_cursor"),
    FilterError: (400, "bad_filter"),
    BadMonth: (400, "bad_month"),
    UnknownCard: (404, "card_not_found"),
    UnknownReference: (400, "unknown_reference"),  # a station, product or region filter naming nothing
}
#: Codes of FundsError that are input the rules refuse rather than a state (422, not 409).
_UNPROCESSABLE_FUNDS = {"reference_required", "draft_expired"}


def problem_for(error: Exception) -> ApiProblem | None:
    """The problem a rules' error answers with, from ERRORS; None for an error not in the table."""
    if isinstance(error, ApiProblem):
        return error
    for cls in type(error).__mro__:
        if cls in ERRORS:
            status, code = ERRORS[cls]
            code = code or getattr(error, "code", None) or HTTP_CODES[status]
            status = getattr(error, "status", status) if isinstance(getattr(error, "status", None), int) else status
            if isinstance(error, FundsError) and code in _UNPROCESSABLE_FUNDS:
                status = 422
            return ApiProblem(status, code, _detail(error), **_extra(error))
    return None


def _detail(error: Exception) -> str:
    return str(getattr(error, "message", None) or error)


def _extra(error: Exception) -> dict[str, Any]:
    if isinstance(error, PlanRejected):
        return {
            "errors": [
                {"field": f"body.lines[{e.line_no}]" if e.line_no is not None else "body", "message": e.code}
                for e in error.errors
            ]
        }
    return {}


def problem_type(code: str) -> str:
    return f"{current_app.config.get('PUBLIC_URL') or ''}{PREFIX}/problems/{code}"


def make_problem(problem: ApiProblem) -> Response:
    body = Problem(
        type=problem_type(problem.code),
        title=TITLES.get(problem.status, "Error"),
        status=problem.status,
        code=problem.code,
        detail=problem.detail,
        instance=request.path[:2000],
        errors=problem.extra.get("errors"),
    )
    response = Response(body.model_dump_json(exclude_none=True), status=problem.status, mimetype=MEDIA_TYPE)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def http_problem(error: HTTPException) -> Response:
    """werkzeug's HTTP errors (abort, routing, body too large, the database busy) as problems."""
    status = error.code or 500
    if status == 503:  # portal.web.errors.Busy: nothing was changed, the same request may be sent again
        retry_after = getattr(error, "retry_after", None) or BUSY_RETRY_AFTER_SECONDS
        problem = ApiProblem(
            503, "busy_retry", "the database is busy; nothing was changed, send the same request again",
            headers={"Retry-After": str(retry_after)},
        )  # fmt: skip
    else:
        code = HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
        detail = error.description if status < 500 and error.description else TITLES.get(status, "Error")
        kept = {name: value for name, value in error.get_headers() if name in ("Allow", "Retry-After")}
        problem = ApiProblem(status, code, str(detail), headers=kept)
    return make_problem(problem)


def internal_problem() -> Response:
    return make_problem(ApiProblem(500, "internal_error", "something went wrong on our side; it was logged"))


def is_api_request() -> bool:
    """Whether this request is for the customer API (also when no route matched: 404, 405)."""
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def handle_error(error: Exception) -> Response:
    """The one answer to any error of an API request: roll back, then the problem for it."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001  (a broken connection must not hide the original error)
        current_app.logger.exception("rollback failed")
    problem = problem_for(error)
    if problem is not None:
        return make_problem(problem)
    if isinstance(error, IntegrityError):  # a unique index caught what a check missed (a race): never a 500
        current_app.logger.warning("integrity error on %s %s: %s", request.method, request.path, error.orig)
        return make_problem(
            ApiProblem(
                409, "conflict", "the request conflicts with the current state (changed meanwhile); read it again"
            )
        )
    if isinstance(error, DBAPIError) and is_busy(error):
        current_app.logger.warning("database busy on %s %s: %s", request.method, request.path, error.orig)
        return http_problem(ServiceUnavailable(retry_after=BUSY_RETRY_AFTER_SECONDS))
    if isinstance(error, HTTPException):
        return http_problem(error)
    current_app.logger.error("unhandled API error on %s %s", request.method, request.path, exc_info=error)
    return internal_problem()


def register(app: Flask, bp) -> None:
    """Problems for every error of `bp` (view errors), and for /api/v1 URLs no route matched
    (portal.web.errors asks `is_api_request` first)."""
    bp.register_error_handler(Exception, handle_error)


def validation_problem(errors: list[dict[str, Any]], where: str) -> ApiProblem:
    """422 validation_failed listing each failing field (pydantic's errors)."""
    fields = [
        {
            "field": ".".join(p for p in (where, *(str(part) for part in e.get("loc", ()))) if p),
            "message": str(e.get("msg", ""))[:300],
        }
        for e in errors[:50]
    ]
    return ApiProblem(422, "validation_failed", "the request has invalid fields", errors=fields)


def problem_json(problem: ApiProblem) -> dict[str, Any]:
    """The problem's body as a dict (idempotency stores responses as bytes; tests read this)."""
    return json.loads(make_problem(problem).get_data())
