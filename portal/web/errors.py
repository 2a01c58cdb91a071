"""Error pages without stack traces; the 500 path rolls the session back."""

from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from portal.extensions import db


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        db.session.rollback()
        return render_template("errors/error.html", error=error), error.code

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error")
        return render_template("errors/error.html", error=None), 500
