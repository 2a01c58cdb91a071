"""积分兑换: redeem whole blocks of points for a voucher. Choose card and points, confirm, receipt.

Password re-entry (portal.auth.web.require_recent_password) guards the form and the confirmation; the form's hidden key
makes a double submit redeem once.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth.web import require_recent_password
from portal.cards.models import Card
from portal.extensions import client_ip, clock, db
from portal.points.models import PointsRedemption
from portal.rewards import services
from portal.rewards.forms import ConfirmForm, RedeemForm
from portal.rewards.messages import error_message
from portal.web.access import customer_scope, guard, in_scope, owned_or_404, requires
from portal.web.filters import card_number, money
from portal.web.filters import points as points_text

bp = guard(Blueprint("rewards", __name__, url_prefix="/rewards"))


def _driver_scope() -> int | None:
    """A driver redeems only for their own cards; an admin for any card of the customer."""
    user = current_user.user
    return user.driver_id if user.role == "driver" else None


def _card(card_id) -> Card:
    """The card if the user may redeem for it (`in_scope`); RewardError("foreign_card", 404) otherwise,
    shown on the form, so ids of other customers' cards reveal nothing."""
    card = in_scope(Card, card_id)
    if card is None:
        raise services.RewardError("foreign_card", 404)
    return card


def _form_page(form: RedeemForm, status: int = 200, error: str | None = None):
    cards = services.cards_for(db.session, customer_scope(), _driver_scope())
    form.card_id.choices = [
        (row.card.id, _("%(card)s %(nickname)s (%(points)s points)", card=card_number(row.card.number),
                        nickname=row.card.nickname, points=points_text(row.available)))
        for row in cards
    ]  # fmt: skip
    return render_template(
        "rewards/redeem.html",
        form=form,
        cards=cards,
        error=error,
        block_points=services.BLOCK_POINTS,
        block_value=services.BLOCK_VALUE_FEN,
    ), status


def _refused(form: RedeemForm, exc: services.RewardError):
    db.session.rollback()
    return _form_page(form, exc.status, error_message(exc))


@bp.route("/redeem", methods=["GET", "POST"])
@requires("points.redeem")
@require_recent_password()
def redeem():
    """The cards with their points, and the redemption form; a valid POST shows the confirmation."""
    form = RedeemForm()
    if not form.is_submitted():
        form.key.data = RedeemForm.new_key()
        return _form_page(form)
    if not form.validate():
        return _form_page(form, 422)
    try:
        card = _card(form.card_id.data)
        value = services.check(db.session, card, form.points.data)
    except services.RewardError as exc:
        return _refused(form, exc)
    confirm = ConfirmForm(formdata=None, key=form.key.data, card_id=card.id, points=form.points.data)
    return render_template("rewards/confirm.html", form=confirm, card=card, points=form.points.data, value=value)


@bp.post("/confirm")
@requires("points.redeem")
@require_recent_password()
def confirm():
    """Redeem, once per key, and show the receipt."""
    form = ConfirmForm()
    retry = RedeemForm(formdata=None, key=RedeemForm.new_key())
    if not form.validate():
        return _form_page(retry, 422, " ".join(map(str, form.key.errors)) or _("Please start again."))
    try:
        card_id, points = int(form.card_id.data), int(form.points.data)
    except (TypeError, ValueError):
        return _form_page(retry, 422, _("Please start again."))
    try:
        card = _card(card_id)
        done = services.redeem(
            db.session,
            card,
            points,
            key=form.key.data,
            actor_id=current_user.user.id,
            now=clock().now(),
            ip=client_ip(),
        )
    except services.RewardError as exc:
        return _refused(retry, exc)
    db.session.commit()
    if done.replayed:
        flash(_("These points were already redeemed; nothing was redeemed twice."), "info")
    else:
        value = money(done.redemption.value_fen)
        flash(_("Redeemed %(points)s points for a voucher of %(value)s.", points=points_text(points), value=value),
              "success")  # fmt: skip
    return redirect(url_for("rewards.receipt", redemption_id=done.redemption.id))


@bp.get("/receipts/<int:redemption_id>")
@requires("points.redeem")
def receipt(redemption_id: int):
    """The receipt of a redemption (printable)."""
    redemption = owned_or_404(PointsRedemption, redemption_id)
    card = db.session.get(Card, redemption.card_id)
    left = services.available_points(db.session, card.id)
    return render_template("rewards/receipt.html", redemption=redemption, card=card, left=left)
