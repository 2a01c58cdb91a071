"""Security headers on every response, and the one check of form input no field can make: no NUL."""

from __future__ import annotations

from flask import Flask, abort, request
from flask_babel import lazy_gettext as _l

#: Scripts and styles only from our own static files: no inline <script>, no style="" attributes.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

#: HTTPS only, for a year: sent in production only, so a developer's http://127.0.0.1 keeps working.
HSTS = "max-age=31536000; includeSubDomains"


#: A NUL byte is never typed; PostgreSQL cannot store or even compare one (a query with it fails).
NUL_MESSAGE = _l("What you sent contains a NUL character, which is not allowed. Please check it and try again.")


def refuse_nul_bytes() -> None:
    """400 for a NUL in the path or in any form field's or query parameter's name or value, before a view or the
    CSRF check reads them. `next` is the exception: it only ever chooses where to go after signing
    in, and `safe_next` sends a target with a control character home. (The terminal API reads no
    body before its key is checked, and its request models (portal.stations.api_schema) refuse NUL.)"""
    if request.blueprint == "terminal_api":
        return
    fields = list(request.args.items(multi=True))
    if request.method == "POST":
        fields += request.form.items(multi=True)
    if "\x00" in request.path or any("\x00" in key or ("\x00" in value and key != "next") for key, value in fields):
        from portal.api import problems  # the customer API answers its own problem, in English

        if problems.is_api_request():
            abort(problems.make_problem(problems.ApiProblem(400, "nul_character", problems.NUL_DETAIL)))
        abort(400, str(NUL_MESSAGE))


def register_security(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_nul_bytes)

    @app.after_request
    def headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("HSTS"):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        # Pages show balances and card numbers: a shared computer's cache or back button must not
        # keep them. Static files (no personal data) stay cacheable.
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
