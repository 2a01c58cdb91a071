"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, request

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


def register_security(app: Flask) -> None:
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
