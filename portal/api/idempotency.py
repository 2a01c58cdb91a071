"""Idempotent API requests: `api_endpoint(..., idempotent=True)` on every money-moving endpoint.

The client sends `Idempotency-Key: <1..64 printable ASCII characters>` (a UUID is a good choice):
- missing or malformed: 400 `idempotency_key_missing` / `idempotency_key_invalid`;
- first use: the view runs; its answer (success, or a business refusal 409/422) is stored in
  `api_idempotency` in the same transaction as the view's writes (one commit);
- the same key with the same method, path and body (compared as canonical JSON): the stored
  answer again, with `Idempotent-Replayed: true`; nothing runs twice;
- the same key with another body or endpoint: 422 `idempotency_key_reused`;
- two copies at once: `portal.idempotency.claim` (an advisory lock on PostgreSQL, SQLite's single
  writer) makes the second wait for the first and then replay its answer.

Validation failures (422 `validation_failed`) and server errors are not stored: nothing ran, so the
corrected request may reuse the key. Keys are per customer and kept IDEMPOTENCY_KEEP (a week),
then pruned by the `prune` job. A view that calls a service taking its own idempotency key passes
`service_key()`, derived from the customer and the header, so a replay reaches the same record.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, g, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from portal import idempotency
from portal.api.problems import ApiProblem, make_problem, problem_for
from portal.apikeys.models import ApiIdempotency
from portal.extensions import clock, db

HEADER = "Idempotency-Key"
#: What a key may look like: printable ASCII without spaces, 1 to 64 characters.
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,64}$")
#: The claim's scope (portal.idempotency.claim).
CLAIM_SCOPE = "api-idempotency"


class IdempotencyHeaders(BaseModel):
    """Documents the header in the OpenAPI document (`check_header` enforces it first)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    idempotency_key: str = Field(
        alias=HEADER, pattern=KEY_PATTERN.pattern, description="A unique key per operation, e.g. a UUID"
    )


def check_header() -> str:
    """The request's Idempotency-Key; 400 when missing or malformed."""
    key = request.headers.get(HEADER)
    if not key:
        raise ApiProblem(400, "idempotency_key_missing", f"this request needs an {HEADER} header")
    if not KEY_PATTERN.match(key):
        raise ApiProblem(400, "idempotency_key_invalid", f"{HEADER} must be 1 to 64 printable ASCII characters")
    return key


def service_key() -> str:
    """A 32-hex-character key for a service's own idempotency key, the same for every copy of the request."""
    name = f"api:{g.api_customer_id}:{request.headers[HEADER]}"
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def fingerprint() -> str:
    """SHA-256 of the body as canonical JSON (key order and spacing do not matter). The parsed body
    always, never guarded by Content-Length: a chunked body has none and must count all the same."""
    body = request.get_json(silent=True)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replayable(view: Callable) -> Callable:
    """Run `view` once per (customer, Idempotency-Key); store and replay its answer."""

    @wraps(view)
    def run(*args: Any, **kwargs: Any) -> Response:
        key, customer_id = request.headers[HEADER], g.api_customer_id
        what, digest = f"{request.method} {request.path}"[:255], fingerprint()
        idempotency.claim(db.session, CLAIM_SCOPE, customer_id, key)
        found = db.session.scalar(
            select(ApiIdempotency).where(ApiIdempotency.customer_id == customer_id, ApiIdempotency.key == key)
        )
        if found is not None:
            if found.request != what or found.fingerprint != digest:
                raise ApiProblem(
                    422, "idempotency_key_reused", f"this {HEADER} was used for another request; use a new key"
                )
            return _replay(found)
        answer = _run(view, args, kwargs)
        db.session.add(
            ApiIdempotency(
                customer_id=customer_id, key=key, request=what, fingerprint=digest, status=answer.status_code,
                body=answer.get_data(), content_type=answer.mimetype or "application/json",
                headers={name: answer.headers[name] for name in ("Location",) if name in answer.headers},
                created_at=clock().now(),
            )
        )  # fmt: skip
        db.session.flush()
        return answer

    return run


def _run(view: Callable, args, kwargs) -> Response:
    """The view's answer as a Response; a business refusal becomes its problem (its writes undone,
    the claim kept), to be stored like a success."""
    try:
        with db.session.begin_nested():
            return to_response(view(*args, **kwargs))
    except Exception as exc:
        problem = problem_for(exc)
        if problem is None or problem.status >= 500:
            raise
        return make_problem(problem)


def to_response(result: Any) -> Response:
    """A view's return value (a model, or (model, status), or (model, status, headers)) as a Response."""
    if isinstance(result, Response):
        return result
    body, status, headers = (*result, None, None)[:3] if isinstance(result, tuple) else (result, None, None)
    status, headers = status or 200, headers or {}
    if isinstance(body, BaseModel):
        return Response(body.model_dump_json(), status=status, headers=headers, mimetype="application/json")
    return current_app.make_response((body, status, headers))


def _replay(found: ApiIdempotency) -> Response:
    response = Response(found.body, status=found.status, mimetype=found.content_type)
    for name, value in (found.headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response
