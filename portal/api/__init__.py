"""The customer REST API, /api/v1: what a fleet admin can do in the portal, for the customer's own
systems (ERP, telematics, dashboards), authenticated by API keys the admin creates (portal.apikeys).

Design
- One blueprint, `api`, at /api/v1 (the path carries the version). It is CSRF-exempt and exempt
  from the page limiter: no cookie ever authenticates it (a signed-in browser gets 401), a key
  does, and the API has its own per-key limits.
- One module per area, `portal/api/<area>.py`, adding its routes to `bp`; every module of this
  package is imported by `portal.api.registration.register` (no list to edit). `portal/api/cards.py` is the exemplar.
- Every endpoint is declared with ONE decorator, `portal.api.auth.api_endpoint(scope, query=...,
  json=..., resp={status: Model}, idempotent=...)`, right under the route. It authenticates,
  checks scope/address/rate limit, validates the request against pydantic models, validates the
  answer, commits writes once, and registers the endpoint in the OpenAPI document
  (portal.api.spec, spectree: the document is generated from the models that validate). A route
  without it fails tests/web/test_api_guard.py.
- Views stay thin: parse (the models do it) -> scope to `g.api_customer_id` (another customer's
  object is 404) -> call one service (the same rules the pages call) -> return a model. They never
  commit. Refuse with `raise ApiProblem(status, code, detail)`; the rules' typed errors become
  problems through the one table in portal.api.problems.
- Errors: RFC 9457 application/problem+json with a stable `code`, for every error of every /api/v1
  URL (portal.api.problems). Never a 500 for bad input.
- Money-moving endpoints are `idempotent=True`: `Idempotency-Key` required, answers stored and
  replayed (portal.api.idempotency). Use `service_key()` where the service takes its own key.
- Lists: `?limit=&cursor=`, `{"data": [...], "next_cursor": ...}` (portal.api.pagination).
  Values: times ISO 8601 with +08:00, money integer `*_fen` (portal.api.serialize).
- Audit: `api_audit(action, detail)` after a write: the customer's activity log shows the key's name.
"""

from __future__ import annotations

from flask import Blueprint

from portal.extensions import csrf, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
#: The page limiter's bookkeeping does not apply: the API limits per key (portal.api.auth).
limiter.exempt(bp)
