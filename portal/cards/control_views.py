"""Controls pages (admin only): one card's limits, and reusable templates applied to many cards."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from portal.auth.forms import ConfirmedForm
from portal.cards import services
from portal.cards.controls import Controls, format_hours, normalize_plate, parse_hours
from portal.cards.errors import CardError
from portal.cards.forms import ApplyTemplateForm, ControlsForm, TemplateForm
from portal.cards.messages import error_message
from portal.cards.models import Card, ControlTemplate
from portal.cards.web import actor_id, bp
from portal.extensions import clock, db
from portal.reference.models import Product, Region, Station
from portal.web.access import customer_scope, owned_or_404, requires
from portal.web.filters import count as count_text


def _choices(form: ControlsForm, customer_id: int, keep_station_ids=()) -> None:
    locale = str(get_locale())
    form.allowed_products.choices = [
        (p.code, p.name(locale)) for p in db.session.scalars(select(Product).order_by(Product.code))
    ]
    regions = list(db.session.scalars(select(Region).order_by(Region.code)))
    form.allowed_region_ids.choices = [SelectChoice(r.id, r.name(locale)) for r in regions]
    stations = db.session.scalars(
        select(Station)
        .where((Station.active.is_(True)) | (Station.id.in_(list(keep_station_ids) or [0])))
        .order_by(Station.region_id, Station.code)
    )
    form.allowed_station_ids.choices = [SelectChoice(s.id, f"{s.code} {s.name}") for s in stations]


def _fill(form: ControlsForm, controls: Controls) -> None:
    """Show saved controls in the form (amounts are shown in yuan by the fields themselves)."""
    form.per_purchase_limit.data = controls.per_purchase_limit_fen
    form.daily_amount_limit.data = controls.daily_amount_limit_fen
    form.daily_count_limit.data = controls.daily_count_limit
    form.daily_litres_limit.data = controls.daily_litres_limit_ml
    form.allowed_products.data = list(controls.allowed_products)
    form.allowed_region_ids.data = list(controls.allowed_region_ids)
    form.allowed_station_ids.data = list(controls.allowed_station_ids)
    form.plate_lock.data = controls.plate_lock
    form.hours.data = format_hours(controls.hours_start_min, controls.hours_end_min)


def _controls(form: ControlsForm) -> Controls:
    """The validated form as a Controls value."""
    hours = parse_hours(form.hours.data or "")
    return Controls(
        per_purchase_limit_fen=form.per_purchase_limit.data,
        daily_amount_limit_fen=form.daily_amount_limit.data,
        daily_count_limit=form.daily_count_limit.data,
        daily_litres_limit_ml=form.daily_litres_limit.data,
        allowed_products=tuple(form.allowed_products.data or ()),
        allowed_region_ids=tuple(form.allowed_region_ids.data or ()),
        allowed_station_ids=tuple(form.allowed_station_ids.data or ()),
        plate_lock=normalize_plate(form.plate_lock.data or ""),
        hours_start_min=hours[0] if hours else None,
        hours_end_min=hours[1] if hours else None,
    )


@bp.route("/<int:card_id>/controls", methods=["GET", "POST"])
@requires("cards.manage")
def controls(card_id: int):
    """Limits of one card; saving marks the card "pending sync to chip" until the next sync."""
    card = owned_or_404(Card, card_id)
    row = services.card_controls(db.session, card.id)
    current = services.controls_of(db.session, card.id)
    form = ControlsForm()
    _choices(form, card.customer_id, current.allowed_station_ids)
    if request.method == "GET":
        _fill(form, current)
    status = 200
    if form.validate_on_submit():
        try:
            services.set_card_controls(db.session, card, _controls(form), actor_id=actor_id(), now=clock().now())
        except CardError as error:
            db.session.rollback()
            flash(error_message(error), "error")
            status = 409 if error.code == "card_not_active" else 422
        else:
            db.session.commit()
            flash(
                _("Controls of card %(number)s saved; they reach the chip at the next sync.", number=card.number),
                "success",
            )
            return redirect(url_for("cards.controls", card_id=card.id))
    elif request.method == "POST":
        status = 422
    return render_template("cards/controls.html", card=card, form=form, row=row), status


@bp.get("/templates")
@requires("cards.manage")
def templates():
    """The customer's control templates."""
    templates = services.customer_templates(db.session, customer_scope())
    summaries = {t.id: Controls.from_row(t) for t in templates}
    return render_template("cards/templates.html", templates=templates, summaries=summaries)


@bp.route("/templates/new", methods=["GET", "POST"], defaults={"template_id": None})
@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@requires("cards.manage")
def template_edit(template_id: int | None):
    """Create or change a template (cards it was applied to keep their controls until applied again)."""
    customer_id = customer_scope()
    template = owned_or_404(ControlTemplate, template_id) if template_id is not None else None
    form = TemplateForm()
    _choices(form, customer_id, template.allowed_station_ids if template else ())
    if request.method == "GET" and template is not None:
        _fill(form, Controls.from_row(template))
        form.name.data = template.name
    status = 200
    if form.validate_on_submit():
        try:
            template = services.save_template(
                db.session,
                customer_id,
                form.name.data,
                _controls(form),
                actor_id=actor_id(),
                now=clock().now(),
                template=template,
            )
        except CardError as error:
            db.session.rollback()
            flash(error_message(error), "error")
            status = 409 if error.code == "duplicate_name" else 422
        else:
            db.session.commit()
            flash(_("Template %(name)s saved.", name=template.name), "success")
            behind = services.cards_behind_template(db.session, template)
            if behind:
                flash(_reapply_note(len(behind)), "warning")
            return redirect(url_for("cards.template_apply", template_id=template.id))
    elif request.method == "POST":
        status = 422
    applied = services.template_card_numbers(db.session, template) if template is not None else []
    return render_template("cards/template_edit.html", form=form, template=template, applied=applied), status


def _reapply_note(count: int) -> str:
    return _(
        "%(n)s cards were given this template before the change and keep their old limits until you "
        "apply it again: they are ticked below.",
        n=format_decimal(count),
    )


@bp.route("/templates/<int:template_id>/delete", methods=["GET", "POST"])
@requires("cards.manage")
def template_delete(template_id: int):
    """Delete a template after its confirmation page, which lists the cards it was applied to (they
    keep their limits). A POST without that page's confirmation changes nothing and leads to it."""
    template = owned_or_404(ControlTemplate, template_id)
    form = ConfirmedForm()
    if request.method == "GET":
        applied = services.template_card_numbers(db.session, template)
        return render_template(
            "cards/template_delete.html", template=template, applied=applied, form=ConfirmedForm.asking()
        )
    if not form.is_confirmed():
        if form.csrf_token.errors:
            abort(400)
        return redirect(url_for("cards.template_delete", template_id=template.id), 303)
    services.delete_template(db.session, template, actor_id=actor_id(), now=clock().now())
    db.session.commit()
    flash(_("Template deleted; cards keep their controls."), "success")
    return redirect(url_for("cards.templates"))


@bp.route("/templates/<int:template_id>/apply", methods=["GET", "POST"])
@requires("cards.manage")
def template_apply(template_id: int):
    """Apply a template to many active cards at once."""
    template = owned_or_404(ControlTemplate, template_id)
    cards = [c for c in services.customer_cards(db.session, template.customer_id) if c.status == "active"]
    form = ApplyTemplateForm()
    form.card_ids.choices = [SelectChoice(c.id, c.number + (f" · {c.nickname}" if c.nickname else "")) for c in cards]
    behind = services.cards_behind_template(db.session, template)
    if request.method == "GET":
        form.card_ids.data = [c.id for c in behind]
    status = 200
    if form.validate_on_submit():
        chosen = [c for c in cards if c.id in set(form.card_ids.data)]
        try:
            changed = services.apply_template(db.session, template, chosen, actor_id=actor_id(), now=clock().now())
        except CardError as error:
            db.session.rollback()
            flash(error_message(error), "error")
            status = 409
        else:
            db.session.commit()
            flash(
                _(
                    "Template applied to %(n)s cards (%(changed)s changed).",
                    n=count_text(len(chosen)),
                    changed=count_text(changed),
                ),
                "success",
            )
            return redirect(url_for("cards.index"))
    elif request.method == "POST":
        status = 422
    return render_template(
        "cards/template_apply.html", template=template, form=form, summary=Controls.from_row(template), behind=behind
    ), status
