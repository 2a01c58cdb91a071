"""The terminal API's published contract: its OpenAPI 3.1 document (GET /api/terminal/v1/openapi.json)
and a page reading it (GET /api/terminal/v1/docs, Swagger UI). Both public: the document holds no
secret (it describes the requests, never a key), and station POS vendors read it before they have
a key. Swagger UI's files come from the installed offapi package, served here: no CDN. The
document is built from the models that validate the requests (portal.stations.api_schema).
"""

from __future__ import annotations

from importlib import resources

from flask import Blueprint, abort, jsonify, render_template, send_file

from portal.stations import api_schema
from portal.web.access import PUBLIC, guard, requires

bp = guard(Blueprint("terminal_api_docs", __name__, url_prefix="/api/terminal/v1"))

#: The docs page's files: name in the URL -> (offapi's file, type).
ASSETS = {
    "swagger-ui.css": ("swagger_style.css", "text/css"),
    "swagger-ui-bundle.js": ("swagger_bundle.js", "text/javascript"),
}
#: The files change only with the offapi package: browsers may keep them for a day.
ASSET_MAX_AGE = 24 * 3600


@bp.get("/openapi.json")
@requires(PUBLIC)
def openapi():
    """The OpenAPI 3.1 document of the terminal API."""
    return jsonify(api_schema.document())


@bp.get("/docs")
@requires(PUBLIC)
def docs():
    """Swagger UI over the document."""
    return render_template("stations/api_docs.html")


@bp.get("/docs/<name>")
@requires(PUBLIC)
def asset(name: str):
    """One of Swagger UI's files, from the installed offapi package."""
    if name not in ASSETS:
        abort(404)
    filename, mimetype = ASSETS[name]
    with resources.as_file(resources.files("offapi") / filename) as path:
        return send_file(path, mimetype=mimetype, max_age=ASSET_MAX_AGE)
