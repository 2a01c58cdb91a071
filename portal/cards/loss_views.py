"""Loss pages: report a card lost (admin: any card of the customer; driver: own card), see the
timers, cancel the report (解挂, admin, password re-entered) and replace the card (补卡, admin,
password re-entered, once: the form carries an idempotency key)."""

from __future__ import annotations

import uuid

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from portal.auth.forms import EmptyForm
from portal.auth.reauth import is_recent
from portal.auth.web import require_recent_password
from portal.cards import loss, services
from portal.cards.errors import AlreadyReported, CardError, CardNotActive
from portal.cards.forms import ReplaceCardForm, ReportLossForm
from portal.cards.messages import CARD_STATUSES, LOSS_REASONS, REPORT_STATUSES, error_message
from portal.cards.models import Card, LossReport
from portal.cards.views import balances
from portal.cards.web import actor_id, bp
from portal.extensions import client_ip, clock, db
from portal.web.access import customer_scope, owned_or_404, requires
from portal.web.filters import card_number, localtime


def _policy() -> loss.LossPolicy:
    return loss.LossPolicy.from_config(current_app.config)


def _reportable_cards() -> list[Card]:
    if current_user.role == "driver":
        cards = services.driver_cards(db.session, current_user.user.driver_id)
    else:
        cards = services.customer_cards(db.session, customer_scope(), role=None)
    return cards


def _report_form(cards: list[Card]) -> ReportLossForm:
    form = ReportLossForm()
    form.card_id.choices = [
        SelectChoice(
            card.id,
            card_number(card.number)
            + (f" · {card.nickname}" if card.nickname and card.role != "main" else "")
            + (" · " + _("main card") if card.role == "main" else ""),
        )
        for card in cards
        if card.status == "active"
    ]
    return form


#: Loss reports on one page of the list.
REPORTS_PAGE_SIZE = 50


def _loss_page(form: ReportLossForm, cards: list[Card], status: int = 200):
    customer_id = customer_scope()
    own = [card.id for card in cards] if current_user.role == "driver" else None
    page = loss.reports_page(
        db.session, customer_id, card_ids=own, page=request.args.get("page"), size=REPORTS_PAGE_SIZE
    )
    numbers = services.card_numbers(db.session, {report.card_id for report in page.rows})
    return (
        render_template(
            "cards/loss.html",
            form=form,
            cards=cards,
            reports=page.rows,
            page=page,
            numbers=numbers,
            now=clock().now(),
            statuses=CARD_STATUSES,
            report_statuses=REPORT_STATUSES,
            reasons=LOSS_REASONS,
            policy=_policy(),
        ),
        status,
    )


@bp.get("/loss", endpoint="loss")
@requires("cards.report_loss")
def loss_index():
    """Report a card lost; the customer's (or the driver's own) loss reports with their timers."""
    cards = _reportable_cards()
    return _loss_page(_report_form(cards), cards)


@bp.post("/loss/report")
@requires("cards.report_loss")
def report_loss():
    """Block the chosen card at once."""
    cards = _reportable_cards()
    form = _report_form(cards)
    raw_id = request.form.get("card_id", "")
    # not "²", which isdigit() accepts and int() refuses, nor 5,000 digits, which int() refuses too
    if raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 19:
        card = owned_or_404(Card, int(raw_id))  # another customer's or another driver's card: 404
        if card.status != "active":
            flash(error_message(AlreadyReported("") if card.status == "lost" else CardNotActive("")), "error")
            return _loss_page(form, cards, 409)
    if not form.validate_on_submit():
        return _loss_page(form, cards, 422)
    card = owned_or_404(Card, form.card_id.data)
    try:
        report = loss.report_loss(
            db.session,
            card,
            reason=form.reason.data,
            note=form.note.data or "",
            actor_id=actor_id(),
            now=clock().now(),
            policy=_policy(),
            ip=client_ip(),
        )
    except CardError as error:
        db.session.rollback()
        flash(error_message(error), "error")
        return _loss_page(form, cards, 409)
    db.session.commit()
    flash(
        _(
            "Card %(number)s is blocked. The loss takes full effect at %(at)s.",
            number=card_number(card.number),
            at=_fmt(report.effective_at),
        ),
        "success",
    )
    return redirect(url_for("cards.loss_report", report_id=report.id))


def _fmt(at) -> str:
    return localtime(at)


@bp.get("/loss/<int:report_id>")
@requires("cards.report_loss")
def loss_report(report_id: int):
    """One loss report: "takes full effect at", "replacement possible from", and the admin's actions."""
    report = owned_or_404(LossReport, report_id)  # a driver: only reports of their own cards
    card = db.session.get(Card, report.card_id)
    replacement = db.session.get(Card, report.replacement_card_id) if report.replacement_card_id else None
    return render_template(
        "cards/loss_report.html",
        report=report,
        card=card,
        replacement=replacement,
        now=clock().now(),
        reasons=LOSS_REASONS,
        report_statuses=REPORT_STATUSES,
        replace_form=_replace_form(),
        cancel_form=EmptyForm(),
    )


def _replace_form() -> ReplaceCardForm:
    form = ReplaceCardForm()
    if request.method == "GET":
        # A new key each time the form is shown; a resubmission of this page carries the same one.
        form.idempotency_key.data = uuid.uuid4().hex
    return form


@bp.route("/loss/<int:report_id>/cancel", methods=["GET", "POST"])
@requires("cards.resolve_loss")
@require_recent_password()
def cancel_loss(report_id: int):
    """解挂: unblock the card (only before a replacement)."""
    report = owned_or_404(LossReport, report_id)
    card = db.session.get(Card, report.card_id)
    form = EmptyForm()
    if request.method == "GET":
        return render_template("cards/cancel_loss.html", report=report, card=card, form=form)
    if not form.validate_on_submit():
        abort(400)
    now = clock().now()
    try:
        loss.cancel_loss(
            db.session,
            report,
            actor_id=actor_id(),
            now=now,
            password_confirmed=is_recent(current_user.login, now),
            ip=client_ip(),
        )
    except CardError as error:
        db.session.rollback()
        flash(error_message(error), "error")
        return render_template("cards/cancel_loss.html", report=report, card=card, form=form), 409
    db.session.commit()
    flash(_("The loss report is cancelled; card %(number)s is active again.", number=card.number), "success")
    return redirect(url_for("cards.loss_report", report_id=report.id))


@bp.route("/loss/<int:report_id>/replace", methods=["GET", "POST"])
@requires("cards.resolve_loss")
@require_recent_password()
def replace(report_id: int):
    """补卡: a new card receives the old card's reserve, chip balance and points; the old card closes."""
    report = owned_or_404(LossReport, report_id)
    card = db.session.get(Card, report.card_id)
    form = _replace_form()
    now = clock().now()
    if request.method == "GET":
        return render_template(
            "cards/replace.html", report=report, card=card, form=form, now=now, balances=balances(card.id)
        )
    if not form.validate_on_submit():
        abort(400)
    try:
        new = loss.replace_card(
            db.session,
            report,
            actor_id=actor_id(),
            now=now,
            password_confirmed=is_recent(current_user.login, now),
            idempotency_key=form.idempotency_key.data,
            ip=client_ip(),
        )
    except CardError as error:
        db.session.rollback()
        flash(error_message(error), "error")
        return render_template(
            "cards/replace.html", report=report, card=card, form=form, now=now, balances=balances(card.id)
        ), 409
    db.session.commit()
    flash(_("Card %(old)s is replaced by %(new)s.", old=card.number, new=new.number), "success")
    return redirect(url_for("cards.loss_report", report_id=report.id))
