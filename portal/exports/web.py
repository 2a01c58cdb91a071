"""The web side of exports: streamed download responses for views (pick the writer, name the file,
keep the request context)."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, current_app, stream_with_context

from portal.db import set_local_timeouts
from portal.exports import copy
from portal.exports.writers import Column, csv_chunks, xlsx_chunks
from portal.extensions import db, job_timeouts

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_response(fmt: str, filename: str, columns: tuple[Column, ...], rows: Iterable[tuple]) -> Response:
    """A streamed download. `rows` is consumed lazily while the response is being sent, inside the
    request context.

    The view's context is torn down (and its session closed) when the view returns, before the
    first row is read; the rows then reopen that same session object, which no teardown knows
    about any more. So the stream closes it itself when done (or when the client goes away)."""
    if fmt == "csv":
        chunks = csv_chunks(columns, rows)
    elif fmt == "xlsx":
        chunks = xlsx_chunks(columns, rows, title=filename)
    else:
        raise ValueError(fmt)
    return _streamed(fmt, filename, chunks)


def copy_csv_response(filename: str, columns: tuple[Column, ...], query) -> Response:
    """A streamed CSV whose rows PostgreSQL formats and sends by COPY (see `exports.copy`)."""
    return _streamed("csv", filename, copy.csv_chunks(db.session, columns, query))


def _streamed(fmt: str, filename: str, chunks) -> Response:
    session = db.session

    def closing():
        try:
            # A download lasts as long as the client takes to read it: its transaction gets the
            # CLI's limits (no statement timeout, no idle limit), not the web's.
            set_local_timeouts(session, job_timeouts(current_app.config))
            yield from chunks
        finally:
            chunks.close()
            session.close()

    response = Response(stream_with_context(closing()), mimetype=FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response
