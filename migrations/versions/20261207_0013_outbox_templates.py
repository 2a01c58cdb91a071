"""outbox: SMS template key and parameters, when the code or link expires, the last attempt's time

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 19:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("template", sa.String(length=40), server_default="", nullable=False))
        batch.add_column(sa.Column("params", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("last_attempt_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("last_attempt_at")
        batch.drop_column("expires_at")
        batch.drop_column("params")
        batch.drop_column("template")
