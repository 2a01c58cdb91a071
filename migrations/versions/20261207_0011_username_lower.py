"""user names unique in any case, and indexed the way sign-in looks them up

`find_user` compares lower(username): without an index on that expression every sign-in read the
whole users table, and two accounts named "Bob" and "bob" created at once could both get in. The
application already refuses a name in use in any case (`claim_username`), so no existing rows clash.
SQLite cannot reflect an expression index: a later batch migration of `users` there must create
it again (tests/integration/test_username_choice.py fails if it is gone).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 17:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)


def downgrade():
    op.drop_index("uq_users_username_lower", table_name="users")
