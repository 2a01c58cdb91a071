"""System admin pages. Terminals: create (the API key is shown once), list, revoke."""

from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from portal.auth.forms import ConfirmedForm, EmptyForm
from portal.extensions import clock, db
from portal.queries.pages import numbered_rows
from portal.reference.models import Station
from portal.stations.models import Terminal
from portal.stations.terminals import TerminalError, create_terminal, revoke_terminal
from portal.web.access import guard, requires

bp = guard(Blueprint("admin", __name__, url_prefix="/admin"))


class TerminalForm(FlaskForm):
    station_id = SelectField(_l("Station"), coerce=int, validators=[DataRequired()])
    name = StringField(_l("Terminal name"), validators=[DataRequired(), Length(max=64)])


def _form() -> TerminalForm:
    form = TerminalForm()
    stations = db.session.execute(select(Station.id, Station.code, Station.name).order_by(Station.code)).all()
    form.station_id.choices = [(s.id, f"{s.code} {s.name}") for s in stations]
    return form


#: Terminals on one page of the list.
PAGE_SIZE = 50


def _page(form: TerminalForm, new_key: str | None = None, status: int = 200):
    """The terminals page: newest first, a page at a time, searchable by terminal or station."""
    query = request.args.get("q", "")[:64].strip()
    stmt = select(Terminal).order_by(Terminal.id.desc())
    if query:
        matching = select(Station.id).where(
            or_(Station.code.contains(query, autoescape=True), Station.name.contains(query, autoescape=True))
        )
        stmt = stmt.where(or_(Terminal.name.contains(query, autoescape=True), Terminal.station_id.in_(matching)))
    page = numbered_rows(db.session, stmt, request.args.get("page"), PAGE_SIZE)
    station_ids = {terminal.station_id for terminal in page.rows}
    stations = {s.id: s for s in db.session.scalars(select(Station).where(Station.id.in_(station_ids)))}
    terminals = [(terminal, stations[terminal.station_id]) for terminal in page.rows]
    return render_template(
        "stations/terminals.html",
        form=form,
        terminals=terminals,
        page=page,
        query=query,
        new_key=new_key,
        revoke_form=EmptyForm(),
    ), status


@bp.get("/terminals")
@requires("terminals.manage")
def terminals():
    """Station terminals and their API keys (prefix only)."""
    return _page(_form())


@bp.post("/terminals")
@requires("terminals.manage")
def create():
    """Create a terminal; its API key is shown on this response only."""
    form = _form()
    if not form.validate_on_submit():
        return _page(form, status=422)
    station = db.session.get(Station, form.station_id.data)
    try:
        terminal, key = create_terminal(
            db.session, station, form.name.data, now=clock().now(), actor_id=current_user.user.id
        )
    except TerminalError as exc:
        form.name.errors.append(exc.message)
        return _page(form, status=422)
    db.session.commit()
    flash(_("Terminal %(name)s created. Copy its API key now: it is not shown again.", name=terminal.name), "success")
    return _page(_form(), new_key=key)


@bp.route("/terminals/<int:terminal_id>/revoke", methods=["GET", "POST"])
@requires("terminals.manage")
def revoke(terminal_id: int):
    """Revoke a terminal's key at once. The GET (and a POST without the confirmation) asks first,
    naming the terminal and its station."""
    terminal = db.session.get(Terminal, terminal_id)
    if terminal is None:
        abort(404)
    form = ConfirmedForm()
    if request.method == "GET" or not form.is_confirmed():
        if request.method == "POST" and form.csrf_token.errors:
            abort(400)
        station = db.session.get(Station, terminal.station_id)
        return render_template(
            "stations/confirm_revoke.html", terminal=terminal, station=station, form=ConfirmedForm.asking()
        )
    revoke_terminal(db.session, terminal, now=clock().now(), actor_id=current_user.user.id)
    db.session.commit()
    flash(_("Terminal %(name)s revoked.", name=terminal.name), "success")
    return _page(_form())
