"""customer_id on every tenant table; the indexes the EXPLAIN test asks for

Ready for partitions and tenants (issue #19): every row that belongs to a customer names it, so a
distributed engine can place it by customer and a query can prune by it (docs/scaling.md).

- card_controls, chip_purchase_uploads, chip_syncs, virtual_chips: the card's customer.
- virtual_chip_entries: the chip's customer (after virtual_chips has its own).
- funds_batch_lines: the batch's customer.
- login_sessions, password_history: the user's customer, NULL for staff and system admins (who
  have none), so these two stay nullable.

Existing rows are backfilled with one portable correlated UPDATE per table, then the column becomes
NOT NULL (PostgreSQL checks every row; SQLite rebuilds the table in batch mode, the chips' entries
stepping aside while their chips' table is rebuilt). A card, a batch and
a chip never change customer, so the copy cannot go stale. On a table of millions of rows the UPDATE
rewrites every row: run it in the maintenance window (it holds the table's write lock while it runs).

The case-insensitive unique index on user names came in 0011; this migration only adds indexes.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 23:00:00

"""

from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: table -> (the SELECT of its customer for a row, from the table that owns it; NOT NULL?)
TENANT_COLUMNS = {
    "card_controls": ("SELECT c.customer_id FROM cards c WHERE c.id = card_controls.card_id", True),
    "chip_purchase_uploads": ("SELECT c.customer_id FROM cards c WHERE c.id = chip_purchase_uploads.card_id", True),
    "chip_syncs": ("SELECT c.customer_id FROM cards c WHERE c.id = chip_syncs.card_id", True),
    "virtual_chips": ("SELECT c.customer_id FROM cards c WHERE c.id = virtual_chips.card_id", True),
    "virtual_chip_entries": (
        "SELECT v.customer_id FROM virtual_chips v WHERE v.id = virtual_chip_entries.chip_id",
        True,
    ),
    "funds_batch_lines": ("SELECT b.customer_id FROM funds_batches b WHERE b.id = funds_batch_lines.batch_id", True),
    "login_sessions": ("SELECT u.customer_id FROM users u WHERE u.id = login_sessions.user_id", False),
    "password_history": ("SELECT u.customer_id FROM users u WHERE u.id = password_history.user_id", False),
}


#: SQLite's batch mode copies the table; reflecting the tables its foreign keys name would read users'
#: expression index, which SQLite's reflection cannot (a warning, an error under the tests).
NO_FK_TABLES = {"resolve_fks": False}


def _add_tenant_column(table: str, owner: str, not_null: bool) -> None:
    with op.batch_alter_table(table, schema=None, reflect_kwargs=NO_FK_TABLES) as batch_op:
        batch_op.add_column(sa.Column("customer_id", BIGINT, nullable=True))
    op.execute(f"UPDATE {table} SET customer_id = ({owner})")  # noqa: S608  (names from this file)
    with op.batch_alter_table(table, schema=None, reflect_kwargs=NO_FK_TABLES) as batch_op:
        if not_null:
            batch_op.alter_column("customer_id", existing_type=BIGINT, nullable=False)
        batch_op.create_foreign_key(f"fk_{table}_customer_id_customers", "customers", ["customer_id"], ["id"])


#: The indexes tests/integration/test_explain.py found missing: name -> (table, columns).
INDEXES = {
    # A customer's accounts of one ledger (journal pages, the home page's balances).
    "ix_ledger_accounts_customer_ledger": ("ledger_accounts", ["customer_id", "ledger"]),
}


@contextmanager
def _rebuildable(table: str):
    """SQLite rebuilds a table to change a column, and dropping the old copy with foreign keys on
    deletes its rows, which the chips' entries refuse for their chips: they step aside meanwhile."""
    if op.get_bind().dialect.name != "sqlite" or table != "virtual_chips":
        yield
        return
    op.execute("CREATE TEMPORARY TABLE entries_0019 AS SELECT * FROM virtual_chip_entries")
    op.execute("DELETE FROM virtual_chip_entries")
    yield
    op.execute("INSERT INTO virtual_chip_entries SELECT * FROM entries_0019")
    op.execute("DROP TABLE entries_0019")


def upgrade():
    for table, (owner, not_null) in TENANT_COLUMNS.items():
        with _rebuildable(table):
            _add_tenant_column(table, owner, not_null)
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade():
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
    for table in reversed(TENANT_COLUMNS):
        with _rebuildable(table), op.batch_alter_table(table, schema=None, reflect_kwargs=NO_FK_TABLES) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_customer_id_customers", type_="foreignkey")
            batch_op.drop_column("customer_id")
