"""job runs: a lease (lease_until) and the status 'interrupted' for a run whose worker died

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 19:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
    # Runs left 'running' before this revision have no lease: lapsed at once (the jobs are stopped
    # during an upgrade, so none of them is still running).
    op.execute("UPDATE job_runs SET lease_until = started_at")
    with op.batch_alter_table("job_runs") as batch:
        batch.alter_column("lease_until", existing_type=sa.DateTime(), nullable=False)
        batch.drop_constraint(op.f("ck_job_runs_status"), type_="check")
        batch.create_check_constraint(
            op.f("ck_job_runs_status"), "status IN ('running', 'ok', 'failed', 'alert', 'interrupted')"
        )


def downgrade():
    op.execute("UPDATE job_runs SET status = 'failed' WHERE status = 'interrupted'")
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_constraint(op.f("ck_job_runs_status"), type_="check")
        batch.create_check_constraint(op.f("ck_job_runs_status"), "status IN ('running', 'ok', 'failed', 'alert')")
        batch.drop_column("lease_until")
