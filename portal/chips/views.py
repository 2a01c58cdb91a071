"""Read chip (卡内信息查询), sync card (同步卡数据) and load funds onto the chip (资金圈存).

Every POST carries a CSRF token (CSRFProtect checks it app-wide before any view runs). No GET
writes: reading a chip does not personalise it, and overdue loads are shown as expired here but
voided by `flask --app portal chips expire-loads` (portal/cli/chips.py).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import idempotency
from portal.auth.forms import EmptyForm
from portal.auth.web import password_refused
from portal.cards.models import Card
from portal.cards.services import card_search
from portal.chips import loads as load_services
from portal.chips.forms import LoadForm, PurchaseForm, SyncForm
from portal.chips.host import card_money
from portal.chips.models import LoadRequest
from portal.chips.reader import ReaderError
from portal.chips.sync import compare_chip, last_synced, last_synced_at, sync_card
from portal.chips.virtual import VirtualReader
from portal.extensions import clock, db
from portal.funds.messages import service_error_message
from portal.funds.services import new_key
from portal.queries.cursor import BadCursor, decode_cursor, encode_cursor
from portal.queries.pages import numbered_rows
from portal.reference.models import Product, Station
from portal.web.access import current_actor, guard, owned_or_404, requires
from portal.web.filters import money

bp = guard(Blueprint("chips", __name__, url_prefix="/chips"))


def get_reader():
    """The configured card reader. Only the virtual one exists in this code base (see docs/card-reader.md)."""
    kind = current_app.config.get("CARD_READER", "virtual")
    if kind != "virtual":
        abort(501)
    return VirtualReader(db.session, now=clock().now())


def _visible_cards() -> list[Card]:
    """Sub-cards the current user may look at: all of the customer's (admins) or their own (drivers)."""
    actor = current_actor()
    stmt = select(Card).where(Card.customer_id == actor.customer_id, Card.role == "sub", Card.status != "closed")
    if actor.role == "driver":
        stmt = stmt.where(Card.driver_id == actor.driver_id)
    return list(db.session.scalars(stmt.order_by(Card.number)))


def _chosen_card(cards: list[Card], raw) -> Card | None:
    """The card named by `raw` among the page's `cards`; 404 for any other id: other customers' or
    drivers' cards, and main or closed cards (not on these pages)."""
    if raw in (None, ""):
        return cards[0] if len(cards) == 1 else None
    try:
        card_id = int(raw)
    except (TypeError, ValueError):
        abort(404)
    # `cards` are already the ones the user reaches (`_visible_cards` applies the same rule as
    # `owned_or_404`); looking the id up among them also spares the database an id out of range.
    card = {c.id: c for c in cards}.get(card_id)
    if card is None:
        abort(404)
    return card


@bp.get("/read")
@requires("chips.view")
def read():
    """What the chip holds beside what the host thinks, differences highlighted."""
    cards = _visible_cards()
    card = _chosen_card(cards, request.args.get("card"))
    reader = get_reader()
    chip, rows, problem = None, [], None
    if card is not None:
        try:
            chip = reader.read(card.number)
        except ReaderError as exc:
            problem = service_error_message(exc.code)
        else:
            rows = compare_chip(db.session, card, chip, now=clock().now())
    return render_template(
        "chips/read.html", cards=cards, card=card, chip=chip, rows=rows, problem=problem, reader=reader,
        last_sync=last_synced(db.session, card.id) if card else None,
        purchase_form=_purchase_form(card_id=card.id if card else None),
        station_names=_station_names({e.station_code for e in chip.entries} if chip else set()),
    )  # fmt: skip


def _station_names(codes: set[str]) -> dict[str, str]:
    """The stations' names for the codes a chip's log carries (the chip itself stores only codes)."""
    codes.discard("")
    if not codes:
        return {}
    return dict(db.session.execute(select(Station.code, Station.name).where(Station.code.in_(codes))).all())


def _purchase_form(**defaults) -> PurchaseForm:
    form = PurchaseForm(**defaults)
    form.station_code.choices = [
        (s.code, f"{s.code} {s.name}")
        for s in db.session.scalars(select(Station).where(Station.active).order_by(Station.code))
    ]
    form.product_code.choices = [
        (p.code, p.name(str(get_locale()))) for p in db.session.scalars(select(Product).order_by(Product.code))
    ]
    return form


@bp.route("/sync", methods=["GET", "POST"])
@requires("chips.sync")
def sync():
    """Upload the chip's offline purchases, write controls and blocked state, apply pending loads."""
    cards = _visible_cards()
    reader = get_reader()
    form = SyncForm()
    result, card = None, None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        card = _chosen_card(cards, form.card_id.data)
        try:
            result = sync_card(db.session, reader, card, now=clock().now(), actor_id=current_user.user.id)
        except ReaderError as exc:
            db.session.rollback()
            flash(service_error_message(exc.code), "error")
            return render_template("chips/sync.html", cards=cards, card=card, result=None, reader=reader,
                                   form=form, last=None), 409  # fmt: skip
        db.session.commit()
        flash(_("Card synced."), "success")
    else:
        card = _chosen_card(cards, request.args.get("card"))
    last = last_synced_at(db.session, [c.id for c in cards])
    return render_template(
        "chips/sync.html", cards=cards, card=card, result=result, reader=reader, form=form, last=last,
        problem_text=_sync_problem_text,
    )  # fmt: skip


def _sync_problem_text(code: str, detail: str) -> str:
    """A sync problem in words: its code and detail are for the log (the detail may be English)."""
    if code == "purchase_refused":
        counter = detail.partition(":")[0].lstrip("#")
        return _("The host refused the offline purchase with chip counter %(counter)s.", counter=counter)
    return service_error_message(code)


#: Cards per page of the load table, and loads per page of the recent loads.
LOAD_CARDS_PAGE_SIZE = 50
RECENT_LOADS_PAGE_SIZE = 20
_LOADS_CURSOR = "chips.loads"


def _matching(query: str):
    """The visible cards (see `_visible_cards`) whose number, nickname, driver or plate contains
    `query`: a statement, counted and paged in SQL."""
    actor = current_actor()
    driver_id = actor.driver_id if actor.role == "driver" else None
    if actor.role == "driver" and driver_id is None:
        driver_id = -1  # a driver login without a driver sees no card
    return card_search(actor.customer_id, query=query, driver_id=driver_id).where(Card.status != "closed")


def _load_page(form: LoadForm, status: int = 200):
    if not form.key.data:  # a refused key: the form shown again carries a new one, used by every resubmit
        form.key.data = new_key()
    user = current_user.user
    query = (request.values.get("q") or "").strip()[:64]
    matching = _matching(query)
    page = numbered_rows(db.session, matching, request.values.get("page", 1), LOAD_CARDS_PAGE_SIZE)
    ids = [c.id for c in page.rows]
    now = clock().now()
    history, next_url, token = [], None, request.args.get("loads", "")[:512]
    if user.role == "admin":
        card_ids = list(db.session.scalars(matching.with_only_columns(Card.id))) if query else None
        history, next_url = _history(user.customer_id, card_ids, query, token)
    _offer_cards(form, page.rows, matching)
    return render_template(
        "chips/load.html", cards=page.rows, page=page, query=query, money=card_money(db.session, ids, now=now),
        pending=load_services.pending_loads_by_card(db.session, ids, now=now), history=history,
        history_next=next_url, history_first=url_for("chips.load", q=query or None) if token else None, form=form,
        reader=get_reader(), admin=user.role == "admin", numbers=_numbers({load.card_id for load in history}),
        shown_status=lambda load: load_services.shown_status(load, now),
    ), status  # fmt: skip


def _history(customer_id: int, card_ids: list[int] | None, query: str, token: str):
    """A page of the recent loads (of the searched cards), and the link to the next page."""
    secret = current_app.config["SECRET_KEY"]
    try:
        key = decode_cursor(token, secret=secret, report=_LOADS_CURSOR) if token else None
    except BadCursor:
        key = None  # a forged or stale link: the newest loads
    found = load_services.loads_page(db.session, customer_id, card_ids=card_ids, key=key, limit=RECENT_LOADS_PAGE_SIZE)
    next_url = None
    if found.next_key is not None:
        cursor = encode_cursor(found.next_key, secret=secret, report=_LOADS_CURSOR)
        next_url = url_for("chips.load", q=query or None, loads=cursor)
    return found.rows, next_url


def _offer_cards(form: LoadForm, shown: list[Card], matching) -> None:
    """The request form offers the active cards of the page shown (and the card chosen, if elsewhere):
    a select of 2,000 cards helps nobody. `?card=<id>` (the row's link) preselects one."""
    if request.method == "GET" and request.args.get("card", "").isdigit():
        form.card_id.data = int(request.args["card"])
    offered = [c for c in shown if c.status == "active"]
    if isinstance(form.card_id.data, int) and form.card_id.data not in {c.id for c in offered}:
        chosen = db.session.scalar(matching.where(Card.id == form.card_id.data, Card.status == "active"))
        if chosen is not None:
            offered.insert(0, chosen)
    form.card_id.choices = [(c.id, c.number) for c in offered]


def _numbers(card_ids: set[int]) -> dict[int, str]:
    if not card_ids:
        return {}
    return dict(db.session.execute(select(Card.id, Card.number).where(Card.id.in_(card_ids))).all())


def _load_form(cards: list[Card]) -> LoadForm:
    form = LoadForm()
    form.card_id.choices = [(c.id, c.number) for c in cards if c.status == "active"]
    return form


@bp.route("/load", methods=["GET", "POST"])
@requires("chips.view", POST="chips.load")
def load():
    """Admins: every card's reserve vs chip vs pending, and load requests. Drivers: funds waiting."""
    user = current_user.user
    if request.method == "GET":
        return _load_page(LoadForm())
    form = _load_form(_visible_cards())
    if not form.validate_on_submit():
        return _load_page(form, 422)
    card = _chosen_card(_visible_cards(), form.card_id.data)
    now = clock().now()
    if (refused := password_refused(form, now, lambda: _load_page(form, 422))) is not None:
        return refused
    expiry = load_services.load_expiry(current_app.config.get("CHIP_LOAD_EXPIRY"))
    load_id = (form.key.data or "")[:32] or new_key()
    try:
        request_ = idempotency.answer_once(db.session, lambda: load_services.request_load(
            db.session, load_id=load_id, card=card, amount=form.amount.data, actor_id=user.id, now=now,
            expiry=expiry,
        ))  # fmt: skip
    except load_services.LoadError as exc:
        db.session.rollback()
        form.amount.errors.append(service_error_message(exc.code, exc.params))
        return _load_page(form, 422)
    db.session.commit()
    flash(_("Load of %(amount)s requested; it is written at the next chip write or sync.",
            amount=money(request_.amount)), "success")  # fmt: skip
    return redirect(url_for("chips.load"))


@bp.post("/loads/<load_id>/write")
@requires("chips.load")
def write_load(load_id: str):
    """Write a pending load to the chip in the reader now, then post it."""
    load = owned_or_404(LoadRequest, load_id[:32])
    try:
        load_services.write_load(db.session, get_reader(), load, now=clock().now(), actor_id=current_user.user.id)
    except load_services.LoadError as exc:
        db.session.commit()  # an expiry found on the way is kept
        flash(service_error_message(exc.code, exc.params), "error")
        return redirect(url_for("chips.load"), 303)
    db.session.commit()
    flash(_("Written to the chip."), "success")
    return redirect(url_for("chips.load"), 303)


@bp.route("/loads/<load_id>/cancel", methods=["GET", "POST"])
@requires("chips.load")
def cancel_load(load_id: str):
    """Cancel a pending load after a confirmation page: the hold on the reserve is released. A POST
    that does not come from the confirmation (no `confirm`) only leads to it."""
    load = owned_or_404(LoadRequest, load_id[:32])
    form = EmptyForm()
    if request.method == "GET":
        now = clock().now()
        return render_template("chips/cancel_load.html", load=load, form=form, number=_numbers({load.card_id}).get(
            load.card_id, ""), status=load_services.shown_status(load, now))  # fmt: skip
    if not form.validate_on_submit():
        abort(400)
    if request.form.get("confirm") != "1":
        return redirect(url_for("chips.cancel_load", load_id=load.id), 303)
    try:
        load_services.cancel_load(db.session, load, now=clock().now(), actor_id=current_user.user.id)
    except load_services.LoadError as exc:
        db.session.rollback()
        flash(service_error_message(exc.code, exc.params), "error")
        return redirect(url_for("chips.load"), 303)
    db.session.commit()
    flash(_("Load cancelled; the reserve is free again."), "success")
    return redirect(url_for("chips.load"), 303)


@bp.post("/simulate-purchase")
@requires("chips.sync")
def simulate_purchase():
    """Virtual reader only: spend from a chip as a pump would, offline (to try sync)."""
    reader = get_reader()
    if not reader.virtual:
        abort(404)
    card = _chosen_card(_visible_cards(), request.form.get("card_id") or "-")
    form = _purchase_form()
    if not form.validate_on_submit():
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("chips.read", card=card.id), 303)
    try:
        reader.simulate_purchase(
            card.number, amount=form.amount.data, at=clock().now(), station_code=form.station_code.data or "",
            product_code=form.product_code.data or "", litres_ml=form.litres.data or 0,
        )  # fmt: skip
    except ReaderError as exc:
        db.session.rollback()
        flash(_("The pump refused the chip: %(reason)s", reason=service_error_message(exc.code)), "error")
    else:
        db.session.commit()
        flash(_("Offline purchase stored on the chip; sync the card to upload it."), "success")
    return redirect(url_for("chips.read", card=card.id), 303)
