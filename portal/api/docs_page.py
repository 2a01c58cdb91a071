"""The one home of the API reference pages (Swagger UI) of both APIs: the customer API's
(/api/v1/docs) and the terminal API's (/api/terminal/v1/docs).

- `docs_page(title, spec_url)` renders templates/api/docs.html over an OpenAPI document, with
  `DOCS_CSP`: the portal's policy with inline styles allowed (Swagger UI sets style attributes as
  it renders), scripts still our own files only.
- Swagger UI's files come from the installed offapi package, served by the one asset route below
  (/api/v1/docs/assets/<name>, public, cacheable for a day): no CDN.
"""

from __future__ import annotations

from importlib import resources

from flask import Response, abort, current_app, render_template

from portal.api import bp

#: The docs pages' Content-Security-Policy: the portal's, with inline styles allowed (Swagger UI).
DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self' 'unsafe-inline'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
#: The docs pages' files: the name served -> (offapi's file, type).
ASSETS = {
    "swagger-ui.css": ("swagger_style.css", "text/css"),
    "swagger-ui-bundle.js": ("swagger_bundle.js", "text/javascript"),
    "swagger-ui-standalone-preset.js": ("swagger_preset.js", "text/javascript"),
}
#: The files change only with the offapi package: browsers may keep them for a day.
ASSET_MAX_AGE = 24 * 3600


def docs_page(title: str, spec_url: str) -> Response:
    """Swagger UI over the OpenAPI document at `spec_url`, with the docs pages' CSP."""
    response = current_app.make_response(render_template("api/docs.html", title=title, spec_url=spec_url))
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


@bp.get("/docs/assets/<name>")
def docs_asset(name: str):
    """Swagger UI's script and styles, from the offapi package (no CDN)."""
    if name not in ASSETS:
        abort(404)
    filename, mimetype = ASSETS[name]
    response = Response((resources.files("offapi") / filename).read_bytes(), mimetype=mimetype)
    response.headers["Cache-Control"] = f"public, max-age={ASSET_MAX_AGE}"
    return response


docs_asset.api_scope = None  # public: no key (as portal.api.spec.public marks)
