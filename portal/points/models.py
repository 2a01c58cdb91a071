"""The points programme's own tables: the earning rules and the redemptions (the points themselves
are ledger accounts). `rules_that_may_apply` is the one definition of which rules a purchase reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, and_, or_
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base

#: Product kinds a points rule can name (as in reference.Product.kind).
PRODUCT_KINDS = ("gasoline", "diesel", "other")


class PointsRule(Base):
    """How many points a purchase earns: `points_per_step` for every full `step_fen` of the amount.

    The most specific active rule wins: product code + region, product code, kind + region, kind.
    Rounding: down to whole steps (a purchase of 99.99 yuan earns 99 points at 1 point per yuan);
    the rest never accumulates across purchases. Defaults (migration 0007): gasoline 1 point per
    yuan, diesel 1 point per 2 yuan, other products none.
    """

    __tablename__ = "points_rules"
    __table_args__ = (
        CheckConstraint("product_kind IN ('gasoline', 'diesel', 'other')", name="product_kind"),
        CheckConstraint("step_fen > 0", name="step_positive"),
        CheckConstraint("points_per_step >= 0", name="points_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_kind: Mapped[str] = mapped_column(String(16))
    #: Narrows the rule to one product (e.g. "98"); NULL: every product of the kind.
    product_code: Mapped[str | None] = mapped_column(ForeignKey("products.code"))
    #: Narrows the rule to one region; NULL: every region.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    step_fen: Mapped[int]
    points_per_step: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)


class PointsRedemption(Base):
    """Points spent for a voucher of `value_fen` (at a station, or in the portal).

    The points move on the POINTS ledger (card points -> points_redeemed); the voucher is honoured
    by the station outside the money ledger, so the money ledger is unchanged.
    """

    __tablename__ = "points_redemptions"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("value_fen > 0", name="value_positive"),
        CheckConstraint("channel IN ('station', 'portal')", name="channel"),
        UniqueConstraint("terminal_id", "terminal_seq"),
        Index("ix_points_redemptions_card_at", "card_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    points: Mapped[int]
    value_fen: Mapped[int]
    channel: Mapped[str] = mapped_column(String(8))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    terminal_id: Mapped[int | None] = mapped_column(ForeignKey("terminals.id"))
    terminal_seq: Mapped[int | None]
    #: The user who redeemed in the portal.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The POINTS ledger transfer (also the idempotency key of a portal redemption).
    transfer_id: Mapped[str] = mapped_column(String(64), unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


def rules_that_may_apply(product_kind, product_code, region_id):
    """Which active rules can apply to a purchase of `product_code` (of `product_kind`) in
    `region_id`, as a SQL condition on `points_rules`: the rule's kind, its code if it names one,
    its region if it names one (`points.rules.Rule.applies` asks the same of a rule in hand; the
    choice among these stays there, `rules.choose_rule`). The arguments are SQL expressions or
    values: the pump joins the product and station rows, a loaded purchase passes its own."""
    rules = PointsRule.__table__.c
    return and_(
        rules.active,
        rules.product_kind == product_kind,
        or_(rules.product_code.is_(None), rules.product_code == product_code),
        or_(rules.region_id.is_(None), rules.region_id == region_id),
    )
