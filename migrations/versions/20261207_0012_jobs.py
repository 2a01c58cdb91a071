"""scheduled jobs: job_runs (one row per slot, claimed before running), outbox retries

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 18:15:00

"""

import sqlalchemy as sa
from alembic import op

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_runs",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("duration_ms", BIGINT, nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.CheckConstraint("status IN ('running', 'ok', 'failed', 'alert')", name=op.f("ck_job_runs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job", "period", name="uq_job_runs_job_period"),
    )
    op.create_index("ix_job_runs_job_started", "job_runs", ["job", "started_at"])
    op.create_index("ix_job_runs_status_started", "job_runs", ["status", "started_at"])
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("attempts", BIGINT, server_default="0", nullable=False))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch.create_check_constraint(op.f("ck_outbox_messages_attempts_not_negative"), "attempts >= 0")
        batch.create_index("ix_outbox_messages_next_attempt", ["next_attempt_at"])


def downgrade():
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_index("ix_outbox_messages_next_attempt")
        batch.drop_constraint("ck_outbox_messages_attempts_not_negative", type_="check")
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
    op.drop_index("ix_job_runs_status_started", table_name="job_runs")
    op.drop_index("ix_job_runs_job_started", table_name="job_runs")
    op.drop_table("job_runs")
