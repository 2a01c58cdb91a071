"""Registering the customer API on an app: every endpoint module of portal.api, then the blueprint."""

from __future__ import annotations

import importlib
import pkgutil

from flask import Flask

import portal.api
from portal.api import auth, bp, problems, spec  # noqa: F401  (spec adds the document's routes)

#: Modules of the package that are machinery, not endpoints (imported anyway, by the others).
MACHINERY = {"auth", "idempotency", "pagination", "problems", "registration", "serialize", "spec"}


def register(app: Flask) -> None:
    """Import every endpoint module of portal.api (a new portal/api/<area>.py joins by itself), then
    register the blueprint with its error handling and rate-limit headers."""
    for module in pkgutil.iter_modules(portal.api.__path__):
        if module.name not in MACHINERY:
            importlib.import_module(f"portal.api.{module.name}")
    if not bp._got_registered_once:  # one blueprint object, many apps (tests)
        problems.register(app, bp)
        bp.after_request(auth.rate_limit_headers)
    app.register_blueprint(bp)
