"""The web side of exports: streamed download responses for views (pick the writer, name the file,
keep the request context)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from flask import Response, current_app, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from portal.db import set_local_timeouts
from portal.exports import copy
from portal.exports.writers import Column, TooManyRows, csv_chunks, xlsx_chunks
from portal.extensions import db, job_timeouts

#: Media types without parameters: Werkzeug adds `charset=utf-8` to text types itself (given here
#: too, it was sent twice: "text/csv; charset=utf-8; charset=utf-8").
FORMATS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_response(
    fmt: str, filename: str, columns: tuple[Column, ...], rows: Iterable[tuple], *, totals: bool = True
) -> Response:
    """A streamed download. CSV rows are consumed lazily while the response is being sent, inside
    the request context. An XLSX is written whole (to a temporary file) before its first byte is
    sent, so one with too many rows gets a page offering the CSV instead; `totals` adds its totals
    row (leave it out where rows repeat figures, as a statement's closing lines do).

    The view's context is torn down (and its session closed) when the view returns, before the
    first row is read; the rows then reopen that same session object, which no teardown knows
    about any more. So the stream closes it itself when done (or when the client goes away)."""
    if fmt == "csv":
        return _streamed(fmt, filename, csv_chunks(columns, rows))
    if fmt != "xlsx":
        raise ValueError(fmt)
    chunks = xlsx_chunks(
        columns,
        rows,
        title=filename,
        total_label=_("Total") if totals else None,
        max_rows=current_app.config["EXPORT_XLSX_MAX_ROWS"],
    )
    _download_timeouts()
    try:
        first = next(chunks)  # every row is read here: too many, and nothing has been sent yet
    except TooManyRows as too_many:
        return _too_many_rows(too_many.limit)
    return _streamed(fmt, filename, _prepended(first, chunks), reads_rows=False)


def copy_csv_response(filename: str, columns: tuple[Column, ...], query) -> Response:
    """A streamed CSV whose rows PostgreSQL formats and sends by COPY (see `exports.copy`)."""
    return _streamed("csv", filename, copy.csv_chunks(db.session, columns, query))


def _download_timeouts() -> None:
    # A download lasts as long as its rows take to read and the client takes to fetch it: its
    # transaction gets the CLI's limits (no statement timeout, no idle limit), not the web's.
    set_local_timeouts(db.session, job_timeouts(current_app.config))


def _prepended(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield first
        yield from rest
    finally:
        rest.close()


def _too_many_rows(limit: int) -> Response:
    """422 with a page that says why and links the same export as CSV (a browser following an
    XLSX link that cannot be served reads this instead of a broken file)."""
    args = {**request.view_args, **request.args.to_dict()}
    csv_url = url_for(request.endpoint, **{**args, "fmt": "csv"})
    # The page the export belongs to (queries.purchases_export -> queries.purchases), same filter.
    page_endpoint = request.endpoint.removesuffix("_export")
    back_url = None
    if page_endpoint in current_app.view_functions:
        back_url = url_for(page_endpoint, **{k: v for k, v in args.items() if k != "fmt"})
    page = render_template("exports/too_many_rows.html", limit=limit, csv_url=csv_url, back_url=back_url)
    return Response(page, status=422, mimetype="text/html")


def _streamed(fmt: str, filename: str, chunks, *, reads_rows: bool = True) -> Response:
    session = db.session

    def closing():
        try:
            if reads_rows:
                _download_timeouts()
            yield from chunks
        finally:
            chunks.close()
            session.close()

    response = Response(stream_with_context(closing()), mimetype=FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response
