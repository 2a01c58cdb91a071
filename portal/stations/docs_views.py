"""The terminal API's published contract: its OpenAPI 3.1 document (GET /api/terminal/v1/openapi.json)
and a page reading it (GET /api/terminal/v1/docs, Swagger UI). Both public: the document holds no
secret (it describes the requests, never a key), and station POS vendors read it before they have
a key. The page is the customer API's one (portal.api.docs_page: its CSP, offapi's files). The
document is built from the models that validate the requests (portal.stations.api_schema).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for
from flask_babel import gettext as _

from portal.api.docs_page import docs_page
from portal.stations import api_schema
from portal.web.access import PUBLIC, guard, requires

bp = guard(Blueprint("terminal_api_docs", __name__, url_prefix="/api/terminal/v1"))


@bp.get("/openapi.json")
@requires(PUBLIC)
def openapi():
    """The OpenAPI 3.1 document of the terminal API."""
    return jsonify(api_schema.document())


@bp.get("/docs")
@requires(PUBLIC)
def docs():
    """Swagger UI over the document."""
    return docs_page(_("Terminal API reference"), url_for("terminal_api_docs.openapi"))
