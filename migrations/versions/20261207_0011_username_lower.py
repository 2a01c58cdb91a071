"""user names unique in any case, and indexed the way sign-in looks them up

`find_user` compares lower(username): without an index on that expression every sign-in read the
whole users table, and two accounts named "Bob" and "bob" created at once could both get in. The
application already refuses a name in use in any case (`claim_username`), so only two accounts
created at the same moment can clash. If some do, the oldest keeps its name and each later one is
renamed "<name>-<id>" (e.g. "bob-42"), logged here so that support can tell its owner: sign-in
found only one of them anyway (whichever the database returned first). Issue #19 added this.
SQLite cannot reflect an expression index: a later batch migration of `users` there must create
it again (tests/integration/test_username_choice.py fails if it is gone).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 17:30:00

"""

import logging

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


#: Accounts whose name an older account already has, in another case.
CLASHING = "EXISTS (SELECT 1 FROM users older WHERE lower(older.username) = lower(users.username) AND older.id < users.id)"


def upgrade():
    clashing = op.get_bind().execute(sa.text(f"SELECT id, username FROM users WHERE {CLASHING}")).all()  # noqa: S608
    for user_id, username in clashing:
        log.warning("user %s: name %r is taken in another case; renamed %r", user_id, username, f"{username[:40]}-{user_id}")
    op.execute(f"UPDATE users SET username = substr(username, 1, 40) || '-' || id WHERE {CLASHING}")  # noqa: S608
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)


def downgrade():
    op.drop_index("uq_users_username_lower", table_name="users")
