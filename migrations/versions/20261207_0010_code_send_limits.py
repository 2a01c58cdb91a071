"""code send limits: one-time codes keep their destination's key, indexed with the time

The send limits count the codes and links sent to one phone number or mail address in the last
hour and day (portal/auth/codes.py). They count by `destination_key` (a phone's digits, an address
in one case), which this index serves with the time. Per user and per customer the existing
single-column indexes serve the count. Rows from before have an empty key and age out in a day.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("destination_key", sa.String(length=254), server_default="", nullable=False))
        batch_op.create_index("ix_one_time_codes_destination_key_created", ["destination_key", "created_at"])


def downgrade():
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_one_time_codes_destination_key_created")
        batch_op.drop_column("destination_key")
