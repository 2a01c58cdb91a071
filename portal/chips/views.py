"""Read chip (卡内信息查询), sync card (同步卡数据) and load funds onto the chip (资金圈存).

Every POST carries a CSRF token (CSRFProtect checks it app-wide before any view runs).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.auth.credentials import WrongPassword, confirm_password
from portal.cards.models import Card
from portal.chips import loads as load_services
from portal.chips.forms import LoadForm, PurchaseForm, SyncForm
from portal.chips.host import card_money
from portal.chips.models import LoadRequest
from portal.chips.reader import ReaderError
from portal.chips.sync import compare_chip, last_synced, sync_card
from portal.chips.virtual import VirtualReader
from portal.extensions import client_ip, clock, db
from portal.funds.messages import service_error_message
from portal.funds.services import new_key
from portal.money import format_fen_plain
from portal.web.access import role_required

bp = Blueprint("chips", __name__, url_prefix="/chips", cli_group="chips")


@bp.cli.command("expire-loads")
def expire_loads_command() -> None:
    """Void every load request whose hold has expired (run from cron, e.g. every 10 minutes)."""
    import click

    count = load_services.expire_loads(db.session, now=clock().now())
    db.session.commit()
    click.echo(f"{count} load request(s) expired")


def get_reader():
    """The configured card reader. Only the virtual one exists in this code base (see docs/card-reader.md)."""
    kind = current_app.config.get("CARD_READER", "virtual")
    if kind != "virtual":
        abort(501)
    return VirtualReader(db.session, now=clock().now())


def _visible_cards() -> list[Card]:
    """Sub-cards the current user may look at: all of the customer's (admins) or their own (drivers)."""
    user = current_user.user
    stmt = select(Card).where(Card.customer_id == user.customer_id, Card.role == "sub", Card.status != "closed")
    if user.role == "driver":
        stmt = stmt.where(Card.driver_id == user.driver_id)
    return list(db.session.scalars(stmt.order_by(Card.number)))


def _chosen_card(cards: list[Card], raw) -> Card | None:
    """The card named by `raw` among `cards`; 404 for any other id (other customers' cards included)."""
    if raw in (None, ""):
        return cards[0] if len(cards) == 1 else None
    try:
        card_id = int(raw)
    except (TypeError, ValueError):
        abort(404)
    for card in cards:
        if card.id == card_id:
            return card
    abort(404)


@bp.get("/read")
@role_required("admin", "driver")
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
            rows = compare_chip(db.session, card, chip)
            db.session.commit()  # the virtual reader personalises a chip the first time it is read
    return render_template(
        "chips/read.html", cards=cards, card=card, chip=chip, rows=rows, problem=problem, reader=reader,
        last_sync=last_synced(db.session, card.id) if card else None,
        purchase_form=_purchase_form(card_id=card.id if card else None),
    )  # fmt: skip


def _purchase_form(**defaults) -> PurchaseForm:
    from portal.reference.models import Product, Station

    form = PurchaseForm(**defaults)
    form.station_code.choices = [
        (s.code, f"{s.code} {s.name}")
        for s in db.session.scalars(select(Station).where(Station.active).order_by(Station.code))
    ]
    form.product_code.choices = [
        (p.code, p.name_zh) for p in db.session.scalars(select(Product).order_by(Product.code))
    ]
    return form


@bp.route("/sync", methods=["GET", "POST"])
@role_required("admin")
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
    last = {c.id: last_synced(db.session, c.id) for c in cards}
    return render_template(
        "chips/sync.html", cards=cards, card=card, result=result, reader=reader, form=form, last=last
    )


def _load_page(form: LoadForm, status: int = 200):
    user = current_user.user
    cards = _visible_cards()
    now = clock().now()
    if load_services.expire_loads(db.session, now=now) if user.role == "admin" else 0:
        db.session.commit()
    money = card_money(db.session, [c.id for c in cards])
    pending = {c.id: load_services.pending_loads_for_card(db.session, c.id) for c in cards}
    history = load_services.recent_loads(db.session, user.customer_id) if user.role == "admin" else []
    return render_template(
        "chips/load.html", cards=cards, money=money, pending=pending, history=history, form=form,
        reader=get_reader(), admin=user.role == "admin", numbers=_numbers({load.card_id for load in history}),
    ), status  # fmt: skip


def _numbers(card_ids: set[int]) -> dict[int, str]:
    if not card_ids:
        return {}
    return dict(db.session.execute(select(Card.id, Card.number).where(Card.id.in_(card_ids))).all())


def _load_form(cards: list[Card]) -> LoadForm:
    form = LoadForm()
    form.card_id.choices = [(c.id, c.number) for c in cards if c.status == "active"]
    return form


@bp.route("/load", methods=["GET", "POST"])
@role_required("admin", "driver")
def load():
    """Admins: every card's reserve vs chip vs pending, and load requests. Drivers: funds waiting."""
    user = current_user.user
    form = _load_form(_visible_cards())
    if request.method == "GET":
        form.key.data = new_key()
        return _load_page(form)
    if user.role != "admin":
        abort(403)
    if not form.validate_on_submit():
        return _load_page(form, 422)
    card = _chosen_card(_visible_cards(), form.card_id.data)
    now = clock().now()
    try:
        confirm_password(db.session, current_user.login, form.password.data, now=now, ip=client_ip())
    except WrongPassword:
        db.session.commit()
        form.password.errors.append(_("The password is not correct."))
        return _load_page(form, 422)
    expiry = current_app.config.get("CHIP_LOAD_EXPIRY", load_services.DEFAULT_LOAD_EXPIRY)
    try:
        request_ = load_services.request_load(
            db.session, load_id=(form.key.data or "")[:32] or new_key(), card=card, amount=form.amount.data,
            actor_id=user.id, now=now, expiry=expiry if isinstance(expiry, timedelta) else timedelta(hours=expiry),
        )  # fmt: skip
    except load_services.LoadError as exc:
        db.session.rollback()
        form.amount.errors.append(service_error_message(exc.code, exc.params))
        return _load_page(form, 422)
    db.session.commit()
    flash(_("Load of %(amount)s requested; it is written at the next chip write or sync.",
            amount=format_fen_plain(request_.amount)), "success")  # fmt: skip
    return redirect(url_for("chips.load"))


def _owned_load(load_id: str) -> LoadRequest:
    load = db.session.get(LoadRequest, load_id[:32])
    if load is None or load.customer_id != current_user.user.customer_id:
        abort(404)
    return load


@bp.post("/loads/<load_id>/write")
@role_required("admin")
def write_load(load_id: str):
    """Write a pending load to the chip in the reader now, then post it."""
    load = _owned_load(load_id)
    try:
        load_services.write_load(db.session, get_reader(), load, now=clock().now(), actor_id=current_user.user.id)
    except load_services.LoadError as exc:
        db.session.commit()  # an expiry found on the way is kept
        flash(service_error_message(exc.code, exc.params), "error")
        return redirect(url_for("chips.load"), 303)
    db.session.commit()
    flash(_("Written to the chip."), "success")
    return redirect(url_for("chips.load"), 303)


@bp.post("/loads/<load_id>/cancel")
@role_required("admin")
def cancel_load(load_id: str):
    """Cancel a pending load: the hold on the reserve is released."""
    load = _owned_load(load_id)
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
@role_required("admin")
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
