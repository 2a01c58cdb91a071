"""Daily purchase totals per customer: what statistics and page totals read instead of the raw rows.

A year of a big fleet is ~500,000 purchases; summing them per request costs ~0.5 s however they are
indexed. These rows hold the same sums per (customer, business day, status, kind, product, region)
— a few dozen per customer and day — so a year's statistics read thousands of rows, not hundreds of
thousands. Card, driver, vehicle and station are not in the key: with them a row would be about
one purchase (a vehicle fuels about once a day), so those groups and filters read the purchases.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base


class PurchaseDay(Base):
    """Sums of one customer's purchases (or refunds, or declines) of one kind on one business day.

    Written in the same transaction as each purchase (`rollup.record_purchase`), and rebuilt from
    the purchases by `flask statistics rebuild-rollup`. Purchases are never updated or deleted, so
    the sums only grow.
    """

    __tablename__ = "purchase_days"
    __table_args__ = (
        CheckConstraint("status IN ('approved', 'declined')", name="status"),
        CheckConstraint("kind IN ('purchase', 'refund')", name="kind"),
        CheckConstraint("count > 0", name="count_positive"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("litres_ml >= 0", name="litres_non_negative"),
        CheckConstraint("points >= 0", name="points_non_negative"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    #: The Asia/Shanghai business day of the purchases' `at`.
    day: Mapped[date] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    product_code: Mapped[str] = mapped_column(ForeignKey("products.code"), primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    #: Purchase rows summed (each positive: refunds are their own kind, subtracted when read).
    count: Mapped[int]
    amount_fen: Mapped[int]
    litres_ml: Mapped[int]
    points: Mapped[int]
