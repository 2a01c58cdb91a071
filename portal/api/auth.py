"""`api_endpoint`: the one decorator of every customer API endpoint.

    @bp.get("/cards/<card_number>")
    @api_endpoint("read", resp={200: CardOut}, tags=["cards"])
    def get_card(card_number: str):
        \"\"\"One card of the key's customer.\"\"\"
        ...
        return CardOut(...)

    @bp.post("/allocations")
    @api_endpoint("funds", json=AllocationIn, resp={201: AllocationOut}, idempotent=True)
    def allocate(json: AllocationIn):
        ...  # no commit: api_endpoint commits once, with the idempotency record
        return AllocationOut(...), 201

The view receives the validated models as parameters named `query` and `json` (spectree passes
them by these names; path parameters come as usual). Response models: one per status in `resp`
(400/401/403/404/422/429/503 problems are documented for every endpoint, 409/413/415 for those with
a body; add any other status the view answers, so the OpenAPI document and schemathesis know).

In order, for each request it:
1. authenticates `Authorization: Bearer fcp_<prefix>_<secret>` (cookies never do): 401
   `missing_key` / `invalid_key` / `key_revoked` / `key_expired`; failed checks are limited per
   address (API_AUTH_FAILURE_LIMIT, then 429);
2. refuses an address outside the key's allowlist (403 `address_not_allowed`);
3. counts the request against the key's limit (API_RATE_LIMIT, in the rate limiter's shared
   storage): RateLimit-Limit / -Remaining / -Reset headers on every answer, 429 `rate_limited`
   with Retry-After over it;
4. refuses a key without the endpoint's scope (403 `scope_missing`);
5. sets `g.api_key` and `g.api_customer_id` (the only customer the view may touch: another
   customer's object is 404), and records the key's last use (at most once a minute, committed
   before the view runs: the one write a GET may cause);
6. refuses query parameters the endpoint does not take, checks the body (JSON object,
   application/json, size, no NUL) and validates query, body and headers against the pydantic
   models (422 `validation_failed` listing the fields; query models extend
   portal.api.pagination.QueryModel, which forbids extras);
7. with `idempotent=True`, requires `Idempotency-Key` and answers a repeated request from its
   record (portal.api.idempotency);
8. runs the view (return a pydantic model, or `(model, status)`; raise ApiProblem or a rules'
   error to refuse), validates the answer against the `resp` model, and commits once for a method
   that writes (views never commit; an error rolls everything back).

Scopes: "read" for every GET; writes need their area's scope (portal.apikeys.services.SCOPES).
`api_audit(action, detail)` records what a view did, with the key's name, in the customer's
activity log. `owned_or_404(Model, id, code)` is the object-level check (another customer's row is
404); `api_actor_id()` is the user id to pass to services that take an actor (the key's creator).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, get_type_hints

from flask import current_app, g, request
from limits import parse as parse_limit
from pydantic import BaseModel, ValidationError
from spectree import Response
from spectree.utils import get_multidict_items
from werkzeug.exceptions import RequestEntityTooLarge

from portal.api import idempotency
from portal.api.problems import NUL_DETAIL, ApiProblem, Problem, validation_problem
from portal.api.spec import BEARER, spec
from portal.apikeys import services as keys
from portal.apikeys.models import ApiKey
from portal.audit.services import record
from portal.extensions import client_ip, clock, db, limiter

#: Defaults of API_RATE_LIMIT (per key) and API_AUTH_FAILURE_LIMIT (per address).
RATE_LIMIT = "600 per minute"
AUTH_FAILURE_LIMIT = "20 per minute"
#: The largest body an API request may send (an allocation of a few thousand lines fits).
MAX_BODY_BYTES = 1024 * 1024
#: Methods whose requests may write: the view's work is committed after it answers.
WRITES = {"POST", "PUT", "PATCH", "DELETE"}

#: Problems every endpoint may answer, documented on every operation (400: a NUL in the path or the
#: query, a bad cursor...; 404: an object named in the path that is not the key's customer's; 503:
#: the database busy, nothing changed).
_COMMON_PROBLEMS = (400, 401, 403, 404, 422, 429, 503)


def api_endpoint(
    scope: str,
    *,
    query: type[BaseModel] | None = None,
    json: type[BaseModel] | None = None,
    resp: dict[int, type[BaseModel] | None] | None = None,
    tags: tuple[str, ...] | list[str] = (),
    idempotent: bool = False,
    produces: dict[int, str] | None = None,
) -> Callable:
    """Declare an API endpoint: its scope, its request models, its answers (status -> model).

    A download (CSV, XLSX) declares `resp={200: None}` and `produces={200: "text/csv"}`, and
    returns a Response built from bytes (answers pass through spectree, which reads them whole)."""
    if scope not in keys.SCOPES:
        raise KeyError(f"unknown API scope {scope!r}: see portal.apikeys.services.SCOPES")
    answers = {status: Problem for status in _COMMON_PROBLEMS}
    if json is not None or idempotent:
        answers |= {409: Problem, 413: Problem, 415: Problem}
    answers |= resp or {}
    response = Response(**{f"HTTP_{status}": model for status, model in answers.items()})
    headers = idempotency.IdempotencyHeaders if idempotent else None

    def decorate(view: Callable) -> Callable:
        # spectree reads the parameters' annotations through the wrappers below, in the wrappers'
        # module: resolve them here, in the view's own module, where the models' names are known.
        view.__annotations__ = get_type_hints(view, include_extras=True)
        inner = idempotency.replayable(view) if idempotent else _answered(view)
        validated = spec.validate(
            query=query,
            json=json,
            headers=headers,
            resp=response,
            tags=tuple(tags),
            security=BEARER,
            operation_id=view.__name__,
            before=_validation_failed(query, json, headers),
            after=_answer_checked,
        )(inner)

        @wraps(validated)
        def endpoint(*args: Any, **kwargs: Any):
            authenticate(scope)
            check_query_names(query)
            if json is not None:
                check_body()
            if idempotent:
                idempotency.check_header()
            answer = validated(*args, **kwargs)
            if request.method in WRITES:  # the view's writes and their idempotency record, at once
                db.session.commit()
            return answer

        endpoint.api_scope = scope
        endpoint.api_idempotent = idempotent
        endpoint.api_produces = dict(produces or {})
        return endpoint

    return decorate


def _answered(view: Callable) -> Callable:
    """`view` returning a Response: its model serialized (whatever the status), as the idempotent path does."""

    @wraps(view)
    def run(*args: Any, **kwargs: Any):
        return idempotency.to_response(view(*args, **kwargs))

    return run


# --- 1-5: who is calling ------------------------------------------------------------------------


def authenticate(scope: str) -> ApiKey:
    """The request's key, checked for this scope; sets g.api_key and g.api_customer_id."""
    failures = ("api-auth-failures", client_ip())
    failure_limit = current_app.config.get("API_AUTH_FAILURE_LIMIT", AUTH_FAILURE_LIMIT)
    _limit(failure_limit, failures, count=False)
    key = keys.key_for_token(db.session, bearer_token())
    now = clock().now()
    if key is None or not keys.is_usable(key, now):
        _limit(failure_limit, failures)
        raise _unauthenticated(key, now)
    if not keys.address_allowed(key, client_ip()):
        raise ApiProblem(403, "address_not_allowed", "this key may not be used from this address")
    g.api_rate = _limit(current_app.config.get("API_RATE_LIMIT", RATE_LIMIT), ("api-key", str(key.id)))
    if scope not in key.scopes:
        raise ApiProblem(403, "scope_missing", f"this key lacks the {scope!r} scope")
    g.api_key, g.api_customer_id, g.api_key_id = key, key.customer_id, key.id
    if keys.needs_use_recorded(key, now):
        keys.record_use(db.session, key, ip=client_ip(), now=now)
        db.session.commit()  # its own small transaction: the view's work starts clean
    return key


def bearer_token() -> str | None:
    """The token of `Authorization: Bearer <token>`; None without one (cookies are never read)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _unauthenticated(key: ApiKey | None, now) -> ApiProblem:
    challenge = {"WWW-Authenticate": 'Bearer realm="api"'}
    if key is None:
        if bearer_token() is None:
            return ApiProblem(401, "missing_key", "send an API key: Authorization: Bearer <key>", headers=challenge)
        return ApiProblem(401, "invalid_key", "unknown API key", headers=challenge)
    code = "key_revoked" if key.revoked_at is not None else "key_expired"
    return ApiProblem(401, code, f"this API key is {code.split('_')[1]}", headers=challenge)


def _limit(setting: str, key: tuple[str, ...], *, count: bool = True) -> tuple[int, int, int] | None:
    """Count (or only test) a request against `setting` under `key` in the limiter's shared storage:
    (limit, remaining, seconds to reset), or ApiProblem 429 over it. None when limits are off or
    the storage is down (fail open, loudly, as the terminal API does)."""
    if not limiter.enabled:
        return None
    item = parse_limit(setting)
    key = (current_app.config.get("RATELIMIT_KEY_PREFIX", ""), *key)
    try:
        allowed = limiter.limiter.hit(item, *key) if count else limiter.limiter.test(item, *key)
        stats = limiter.limiter.get_window_stats(item, *key)
    except Exception:  # noqa: BLE001  (any storage error)
        current_app.logger.warning("API rate limit storage unavailable; request let through")
        return None
    reset = max(1, math.ceil(stats.reset_time - time.time()))
    rate = (item.amount, max(0, stats.remaining), reset)
    if not allowed:
        g.api_rate = rate
        raise ApiProblem(429, "rate_limited", f"too many requests ({item})", headers={"Retry-After": str(reset)})
    return rate


def rate_limit_headers(response):
    """RateLimit-* headers on every answer of an authenticated request (the blueprint's after_request)."""
    rate = g.get("api_rate")
    if rate is not None:
        limit, remaining, reset = rate
        response.headers["RateLimit-Limit"] = str(limit)
        response.headers["RateLimit-Remaining"] = str(remaining)
        response.headers["RateLimit-Reset"] = str(reset)
    return response


# --- 6: what was sent ----------------------------------------------------------------------------


def check_body() -> None:
    """415 unless the body is JSON, 413 over MAX_BODY_BYTES, 400 unless it parses to an object
    without NUL characters (PostgreSQL cannot store one)."""
    limit = current_app.config.get("API_MAX_BODY_BYTES", MAX_BODY_BYTES)
    if request.content_length is not None and request.content_length > limit:
        raise ApiProblem(413, "body_too_large", f"the body may be at most {limit} bytes")
    request.max_content_length = limit  # a body sent without a length is cut off there
    if not request.is_json:
        raise ApiProblem(415, "unsupported_media_type", "send the body as application/json")
    try:
        body = request.get_json(silent=False)
    except RequestEntityTooLarge:
        raise ApiProblem(413, "body_too_large", f"the body may be at most {limit} bytes") from None
    except Exception:  # noqa: BLE001  (malformed JSON, bad encoding, nested too deep)
        raise ApiProblem(400, "malformed_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiProblem(400, "malformed_json", "the body must be a JSON object")
    if _has_nul(body):
        raise ApiProblem(400, "nul_character", NUL_DETAIL)


def check_query_names(query: type[BaseModel] | None) -> None:
    """422 for a query parameter the endpoint does not take (whatever its model's config says). A
    model that forbids extras (QueryModel) reports them itself, with every other failing field."""
    if query is not None and query.model_config.get("extra") == "forbid":
        return
    known = set()
    for name, field in (query.model_fields if query is not None else {}).items():
        known |= {name, field.alias or name}
    unknown = sorted(set(request.args) - known)
    if unknown:
        raise validation_problem([{"loc": ("query", name), "msg": "unknown query parameter"} for name in unknown], "")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _validation_failed(query, json, headers) -> Callable:
    """spectree's `before` hook: on a validation error, 422 listing every failing field of every part."""

    def before(req, resp, error, instance, adapter) -> None:
        if error is None:
            return
        parts = (
            ("query", query, lambda: get_multidict_items(request.args, query)),
            ("body", json, lambda: request.get_json(silent=True)),
            ("header", headers, lambda: dict(request.headers)),
        )
        found: list[dict] = []
        for where, model, data in parts:
            if model is None:
                continue
            try:
                model.model_validate(data())
            except ValidationError as exc:
                found += [{**e, "loc": (where, *e["loc"])} for e in exc.errors()]
        raise validation_problem(found or [{"loc": ("request",), "msg": str(error)[:300]}], "")

    return before


def _answer_checked(req, resp, error, instance, adapter) -> None:
    """spectree's `after` hook: an answer that does not match its own schema is our bug: 500, logged."""
    if error is not None:
        raise RuntimeError(f"API answer does not match its schema: {error}")


# --- for views -----------------------------------------------------------------------------------


def owned_or_404(model, object_id: object, code: str = "not_found", what: str = "object"):
    """The row of `model` (which has `customer_id`) with this primary key, if it is the key's
    customer's; else 404 `code` (another customer's object is as if it did not exist)."""
    try:
        row = db.session.get(model, object_id)
    except (TypeError, ValueError, OverflowError):
        row = None
    if row is None or row.customer_id != g.api_customer_id:
        raise ApiProblem(404, code, f"no such {what}")
    return row


def api_actor_id() -> int | None:
    """The user a service records as acting for a request through the API: the key's creator (the
    audit detail added by `api_audit` names the key)."""
    return g.api_key.created_by


# --- audit ---------------------------------------------------------------------------------------


def api_audit(action: str, detail: dict | None = None):
    """Record an action taken through the API in the customer's activity log, under the key's
    creator (the person who answers for the key) with the key's name and id."""
    key: ApiKey = g.api_key
    detail = {**(detail or {}), "api_key_id": key.id, "api_key_name": key.name, "via": "api"}
    return record(
        db.session, action, actor_id=key.created_by, customer_id=key.customer_id, ip=client_ip(),
        detail=detail, now=clock().now(),
    )  # fmt: skip
