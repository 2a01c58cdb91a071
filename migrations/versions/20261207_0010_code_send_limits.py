"""code send limits: index of one-time codes by destination and time

The send limits count the codes and links sent to one phone number or mail address in the last
hour and day (portal/auth/codes.py); this index serves that count. Per user and per customer the
existing single-column indexes serve it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 17:00:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_one_time_codes_destination_created", "one_time_codes", ["destination", "created_at"])


def downgrade():
    op.drop_index("ix_one_time_codes_destination_created", table_name="one_time_codes")
