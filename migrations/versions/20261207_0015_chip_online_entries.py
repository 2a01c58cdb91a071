"""virtual chips follow online purchases and refunds: virtual_chip_entries.host_ref, kind 'refund'

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 19:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("virtual_chip_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host_ref", sa.String(length=64), nullable=True))
        batch_op.drop_constraint(op.f("ck_virtual_chip_entries_kind"), type_="check")
        batch_op.create_check_constraint("kind", "kind IN ('purchase', 'load', 'refund')")
        batch_op.create_check_constraint("host_ref_for_refunds", "kind <> 'refund' OR host_ref IS NOT NULL")
        batch_op.create_unique_constraint("uq_virtual_chip_entries_chip_host_ref", ["chip_id", "host_ref"])


def downgrade():
    with op.batch_alter_table("virtual_chip_entries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_virtual_chip_entries_chip_host_ref", type_="unique")
        batch_op.drop_constraint(op.f("ck_virtual_chip_entries_host_ref_for_refunds"), type_="check")
        batch_op.drop_constraint(op.f("ck_virtual_chip_entries_kind"), type_="check")
        batch_op.create_check_constraint("kind", "kind IN ('purchase', 'load')")
        batch_op.drop_column("host_ref")
