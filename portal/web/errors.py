"""Error pages: friendly, translated, never a stack trace; JSON for API clients. Every error path
rolls the request's session back first, so nothing half-done is committed later and the error page
itself can still read the database."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.wsgi import LimitedStream

from portal.db import is_busy
from portal.extensions import db
from portal.ops.web import request_id

#: What a person is told for each status, unless the view gave its own (translated) description.
MESSAGES = {
    400: _l("The request could not be understood. Please check what you entered and try again."),
    401: _l("Please sign in to continue."),
    403: _l("You do not have access to this page."),
    404: _l("The page you asked for does not exist."),
    405: _l("This action is not available here."),
    409: _l("This conflicts with a change made in the meantime. Reload the page and try again."),
    413: _l("What you sent is too large."),
    422: _l("Some of what you entered is not valid."),
    429: _l("Too many requests. Please wait a moment and try again."),
    500: _l("Something went wrong on our side. Please try again later."),
    503: _l("The system is busy and nothing was changed. Please try again in a moment."),
}
TITLES = {
    400: _l("Bad request"),
    401: _l("Sign-in needed"),
    403: _l("No access"),
    404: _l("Page not found"),
    405: _l("Not allowed"),
    409: _l("Conflict"),
    413: _l("Too large"),
    422: _l("Invalid input"),
    429: _l("Too many requests"),
    500: _l("Server error"),
    503: _l("System busy"),
}
#: Shown with the request id on every error page: support finds the request's log line by it.
SUPPORT_REFERENCE = _l("If you contact support, give them this request id:")
CSRF_MESSAGE = _l("This form has expired or was already sent. Reload the page and try again.")

#: Seconds a client is asked to wait before sending the same request again after a Busy.
BUSY_RETRY_AFTER_SECONDS = 2


class Busy(ServiceUnavailable):
    """The database gave up waiting (a lock held elsewhere too long, a statement over its time):
    the transaction was rolled back whole, so the same request may be sent again. Pages show the
    503 page; the terminal API answers its own JSON error (`busy_retry`). Both carry Retry-After."""

    def __init__(self, retry_after: int = BUSY_RETRY_AFTER_SECONDS):
        super().__init__(retry_after=retry_after)


#: Headers of the original error response worth keeping (e.g. Allow on 405, Retry-After on 429).
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def wants_json() -> bool:
    """API paths, and clients that prefer JSON to HTML, get a JSON error body."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_message(error: HTTPException) -> str:
    """A view may abort(409, _("...")) with its own words; werkzeug's stock English texts are replaced."""
    if isinstance(error, CSRFError):
        return str(CSRF_MESSAGE)
    code = error.code or 500
    if isinstance(error, RateLimitExceeded):
        return str(MESSAGES[429])  # its description is the limit itself, in English: "10 per 1 minute"
    if error.description and error.description != type(error).description and code != 500:
        return str(error.description)
    if code == 413 and request.max_content_length:
        return _("What you sent is too large: at most %(size)s.", size=body_size(request.max_content_length))
    return str(MESSAGES.get(code, TITLES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])))


def body_size(limit: int) -> str:
    """A body limit as a person reads it: 2 MB, 64 KB (binary units, as MAX_CONTENT_LENGTH counts)."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if limit >= size:
            return f"{format_decimal(limit / size, '#,##0.#')} {unit}"
    return f"{limit} B"


def error_response(error: HTTPException) -> Response:
    code = error.code or 500
    message = error_message(error)
    if wants_json():
        response = jsonify(error={"code": code, "message": message})
    else:
        title = str(TITLES.get(code, error.name))
        try:
            page = render_template(
                "errors/error.html", code=code, title=title, message=message, request_id=request_id()
            )
        except Exception:  # the error page must not fail too (e.g. the database is down)
            current_app.logger.exception("error page for %s failed to render", code)
            page = (
                f"<!doctype html><title>{code}</title><h1>{code}</h1><p>{escape(message)}</p>"
                f"<p>{escape(str(SUPPORT_REFERENCE))} <code>{escape(request_id())}</code></p>"
            )
        response = Response(page, mimetype="text/html")
    response.status_code = code
    original = dict(error.get_headers())
    for name in _KEPT_HEADERS:
        if original.get(name):
            response.headers[name] = original[name]
    return response


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # a broken connection must not hide the original error
        current_app.logger.exception("rollback failed")


#: A body refused for its size is read and dropped, up to this many bytes, before the 413 is sent:
#: a client still sending then reads the page instead of a reset connection (gunicorn closes the
#: connection on an unread body). Larger ones are cut off unread; nginx in front stops them first.
DRAIN_MAX_BYTES = 32 * 1024 * 1024


def drain_refused_body(response: Response) -> Response:
    """After a 413 for a declared length over the limit (nothing of it was read: the length alone
    was refused), read the body and drop it."""
    length, limit = request.content_length, request.max_content_length
    if response.status_code == 413 and length and limit and limit < length <= DRAIN_MAX_BYTES:
        stream = LimitedStream(request.environ["wsgi.input"], length)
        while stream.read(64 * 1024):
            pass
    return response


def register_error_handlers(app: Flask) -> None:
    from portal.api.problems import handle_error as handle_api_error
    from portal.api.problems import is_api_request

    app.after_request(drain_refused_body)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if is_api_request():  # a /api/v1 URL no route matched (404, 405): a problem, as the API's own errors
            return handle_api_error(error)
        _rollback()
        return error_response(error)

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        if is_api_request():
            return handle_api_error(error)
        _rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(InternalServerError())

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        """The one place a database's "gave up waiting" becomes a Busy (portal.db.is_busy), from
        any view, API or before-request hook; it is then answered by the handler for Busy of the
        request's blueprint (the terminal API's JSON) or the app's (the error page)."""
        if not is_busy(error):
            return server_error(error)
        _rollback()
        app.logger.warning("database busy on %s %s: %s", request.method, request.path, error.orig)
        return app.handle_user_exception(Busy())
