"""Card pages: the admin's card list and assignment (drivers, vehicles, nicknames), and a driver's
own cards. The blueprint is created in portal.cards.web; loss_views and control_views add to it."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal import ledger
from portal.cards import loss, services
from portal.cards.errors import CardError
from portal.cards.forms import AssignCardForm
from portal.cards.messages import CARD_STATUSES, error_message
from portal.cards.models import Card
from portal.cards.web import actor_id, bp
from portal.chips.loads import pending_load_totals
from portal.drivers.services import search_drivers, search_vehicles
from portal.extensions import clock, db
from portal.queries.pages import numbered_rows
from portal.web.access import customer_scope, owned_or_404, requires


def balances(card_id: int) -> dict[str, int | None]:
    """Host-side balances of a card: reserve, purse (what the host believes is on the chip), points."""
    return _shown(ledger.card_balances(db.session, card_id))


def _shown(card: ledger.CardBalances) -> dict[str, int | None]:
    """The posted balance of each of the card's accounts; None for one not open yet."""
    accounts = {"reserve": card.reserve, "purse": card.purse, "points": card.points}
    return {kind: account.posted if account.opened else None for kind, account in accounts.items()}


#: Cards on one page of the card list.
PAGE_SIZE = 50


@bp.get("/")
@requires("cards.manage")
def index():
    """The customer's sub-cards, searchable (number, nickname, driver, plate), a page at a time, with
    driver, vehicle, status and controls version. A fixed number of statements per page, whatever
    the number of cards."""
    customer_id = customer_scope()
    query, status = request.args.get("q", "")[:64], request.args.get("status", "")
    if status not in CARD_STATUSES:
        status = ""
    page = numbered_rows(
        db.session, services.card_search(customer_id, query=query, status=status), request.args.get("page"), PAGE_SIZE
    )
    ids = [card.id for card in page.rows]
    drivers = {d.id: d for d in services.drivers_by_id(db.session, {c.driver_id for c in page.rows} - {None})}
    vehicles = {v.id: v for v in services.vehicles_by_id(db.session, {c.vehicle_id for c in page.rows} - {None})}
    return render_template(
        "cards/index.html",
        cards=page.rows,
        page=page,
        drivers=drivers,
        vehicles=vehicles,
        versions=services.controls_versions(db.session, ids),
        synced=services.synced_versions(db.session, ids),
        query=query,
        status=status,
        statuses=CARD_STATUSES,
    )


@bp.route("/<int:card_id>/assign", methods=["GET", "POST"])
@requires("cards.manage")
def assign(card_id: int):
    """Give a card a nickname, a driver and a vehicle."""
    card = owned_or_404(Card, card_id)
    form = AssignCardForm(obj=card if request.method == "GET" else None)
    drivers = search_drivers(db.session, card.customer_id)
    vehicles = search_vehicles(db.session, card.customer_id)
    form.driver_id.choices = [SelectChoice(0, _("(none)"))] + [
        SelectChoice(d.id, d.name if d.active else _("%(name)s (inactive)", name=d.name)) for d in drivers
    ]
    form.vehicle_id.choices = [SelectChoice(0, _("(none)"))] + [
        SelectChoice(v.id, v.plate if v.active else _("%(plate)s (inactive)", plate=v.plate)) for v in vehicles
    ]
    if request.method == "GET":
        form.driver_id.data, form.vehicle_id.data = card.driver_id or 0, card.vehicle_id or 0
    status = 200
    if form.validate_on_submit():
        try:
            services.assign_card(
                db.session,
                card,
                driver_id=form.driver_id.data or None,
                vehicle_id=form.vehicle_id.data or None,
                nickname=form.nickname.data or "",
                actor_id=actor_id(),
                now=clock().now(),
            )
        except CardError as error:
            db.session.rollback()
            flash(error_message(error), "error")
            status = 409
        else:
            db.session.commit()
            flash(_("Card %(number)s saved.", number=card.number), "success")
            return redirect(url_for("cards.index"))
    elif request.method == "POST":
        status = 422
    return render_template("cards/assign.html", card=card, form=form), status


@bp.get("/mine")
@requires("cards.own")
def mine():
    """A driver's own cards: status, balances, controls, loads waiting for the chip, loss timers."""
    cards = services.driver_cards(db.session, current_user.user.driver_id)
    money = ledger.many_card_balances(db.session, [card.id for card in cards])
    rows = []
    for card in cards:
        rows.append(
            {
                "card": card,
                "balances": _shown(money[card.id]),
                "controls": services.controls_of(db.session, card.id),
                "report": loss.open_report(db.session, card.id),
                "pending_loads": _pending_loads(card.id),
            }
        )
    return render_template("cards/mine.html", rows=rows, statuses=CARD_STATUSES)


def _pending_loads(card_id: int) -> int:
    """Total of loads waiting to reach the chip (lapsed holds left out, as on the load page)."""
    return pending_load_totals(db.session, [card_id], now=clock().now()).get(card_id, 0)
