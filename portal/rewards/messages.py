"""What the rewards pages say when a redemption cannot be made (by RewardError / PointsError code)."""

from __future__ import annotations

from flask_babel import format_decimal as points
from flask_babel import gettext as _

from portal.rewards.services import BLOCK_POINTS, RewardError


def error_message(exc: RewardError) -> str:
    messages = {
        "foreign_card": lambda: _("This card is not one of yours."),
        "not_whole_blocks": lambda: _("Points are redeemed in whole blocks of %(block)s.", block=points(BLOCK_POINTS)),
        "bad_points": lambda: _("Points are redeemed in whole blocks of %(block)s.", block=points(BLOCK_POINTS)),
        "insufficient_points": lambda: (
            _(
                "The card does not have that many points (%(available)s available).",
                available=points(exc.params["available"]),
            )
            if "available" in exc.params
            else _("The card does not have that many points.")
        ),
        "card_blocked": lambda: _("This card is reported lost or closed: its points cannot be redeemed."),
        "no_points_account": lambda: _("This card does not collect points."),
        "key_reused": lambda: _("This form was already used for another redemption; please start again."),
    }
    return messages.get(exc.code, lambda: _("The points could not be redeemed."))()
