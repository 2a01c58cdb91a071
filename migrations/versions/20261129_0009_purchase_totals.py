"""purchase totals: daily rollup table, covering keyset indexes

`purchase_days` holds daily purchase sums per customer (portal/statistics/models.py). On
PostgreSQL the customer's keyset index of purchases also carries the columns totals and statistics
sum (INCLUDE), so those aggregates read the index only. The driver and plate filters get keyset
indexes of their own.

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-29 21:50:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

#: What totals and statistics sum, carried by the customer's keyset index on PostgreSQL.
TOTALS = ["status", "kind", "amount_fen", "litres_ml", "points"]
#: New keyset indexes for the driver and plate filters.
NEW = {"ix_purchases_driver_at": "driver_id", "ix_purchases_plate_at": "plate"}


def _customer_index(include):
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_purchases_customer_at", table_name="purchases")
    extra = {"postgresql_include": include} if include else {}
    op.create_index("ix_purchases_customer_at", "purchases", ["customer_id", "at", "id"], **extra)


def upgrade():
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "purchase_days",
        sa.Column("customer_id", big, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("product_code", sa.String(length=8), nullable=False),
        sa.Column("region_id", big, nullable=False),
        sa.Column("count", big, nullable=False),
        sa.Column("amount_fen", big, nullable=False),
        sa.Column("litres_ml", big, nullable=False),
        sa.Column("points", big, nullable=False),
        sa.CheckConstraint("status IN ('approved', 'declined')", name=op.f("ck_purchase_days_status")),
        sa.CheckConstraint("kind IN ('purchase', 'refund')", name=op.f("ck_purchase_days_kind")),
        sa.CheckConstraint("count > 0", name=op.f("ck_purchase_days_count_positive")),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_purchase_days_amount_positive")),
        sa.CheckConstraint("litres_ml >= 0", name=op.f("ck_purchase_days_litres_non_negative")),
        sa.CheckConstraint("points >= 0", name=op.f("ck_purchase_days_points_non_negative")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_purchase_days_customer_id_customers")),
        sa.ForeignKeyConstraint(
            ["product_code"], ["products.code"], name=op.f("fk_purchase_days_product_code_products")
        ),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"], name=op.f("fk_purchase_days_region_id_regions")),
        sa.PrimaryKeyConstraint(
            "customer_id", "day", "status", "kind", "product_code", "region_id", name=op.f("pk_purchase_days")
        ),
    )
    _customer_index(TOTALS)
    for name, leading in NEW.items():
        op.create_index(name, "purchases", [leading, "at", "id"])


def downgrade():
    for name in NEW:
        op.drop_index(name, table_name="purchases")
    _customer_index(None)
    op.drop_table("purchase_days")
