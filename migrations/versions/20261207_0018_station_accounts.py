"""station accounts: each station's own station_sales and points_issued accounts (no national hot row)

ledger_accounts.station_id (a station's system account of the kinds station_sales / points_issued),
one account per (station, kind), and the existing stations' accounts created here, so purchases at
different stations never lock or update one shared row. What was posted before stays in the
station-less (national) accounts, whose totals match their journal rows as before: `ledger verify`
passes on an upgraded database; refunds of those purchases take the money back from the account it
was paid to (portal.purchases.refunds).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 23:00:00

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_STATION_KIND = "station_id IS NULL OR kind IN ('station_sales', 'points_issued')"
#: Every existing station gets its two accounts (later stations get theirs at their first purchase).
_BACKFILL = (
    "INSERT INTO ledger_accounts (ledger, kind, customer_id, card_id, station_id, no_overdraft, frozen, closed, "
    "debits_posted, credits_posted, debits_pending, credits_pending, created_at) "
    "SELECT '{ledger}', '{kind}', NULL, NULL, s.id, :no, :no, :no, 0, 0, 0, 0, :now FROM stations s "
    "WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts a WHERE a.station_id = s.id AND a.kind = '{kind}')"
)


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # ADD COLUMN in place: a batch rebuild would drop ledger_accounts, which the journal's rows
        # reference (SQLite refuses that with foreign keys on).
        op.execute(
            "ALTER TABLE ledger_accounts ADD COLUMN station_id INTEGER "
            "CONSTRAINT fk_ledger_accounts_station_id_stations REFERENCES stations (id) "
            f"CONSTRAINT ck_ledger_accounts_station_kind CHECK ({_STATION_KIND})"
        )
    else:
        op.add_column("ledger_accounts", sa.Column("station_id", sa.BigInteger(), nullable=True))
        op.create_foreign_key(
            op.f("fk_ledger_accounts_station_id_stations"), "ledger_accounts", "stations", ["station_id"], ["id"]
        )
        op.create_check_constraint(op.f("ck_ledger_accounts_station_kind"), "ledger_accounts", _STATION_KIND)
    op.drop_index("uq_ledger_accounts_system_kind", table_name="ledger_accounts")
    op.create_index(
        "uq_ledger_accounts_system_kind",
        "ledger_accounts",
        ["kind"],
        unique=True,
        sqlite_where=sa.text("customer_id IS NULL AND station_id IS NULL"),
        postgresql_where=sa.text("customer_id IS NULL AND station_id IS NULL"),
    )
    op.create_index(
        "uq_ledger_accounts_station_kind",
        "ledger_accounts",
        ["station_id", "kind"],
        unique=True,
        sqlite_where=sa.text("station_id IS NOT NULL"),
        postgresql_where=sa.text("station_id IS NOT NULL"),
    )
    now = datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC, as the app stores it
    for kind, ledger in (("station_sales", "CNY"), ("points_issued", "PTS")):
        backfill = sa.text(_BACKFILL.format(ledger=ledger, kind=kind)).bindparams(
            sa.bindparam("no", False, type_=sa.Boolean()), sa.bindparam("now", now, type_=sa.DateTime())
        )
        op.get_bind().execute(backfill)


def downgrade():
    # Only unused station accounts can go; a station account with journal rows keeps the foreign
    # keys of those rows, and the drop below then fails (the books are never rewritten).
    op.execute(
        "DELETE FROM ledger_accounts WHERE station_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM ledger_transfers t WHERE t.debit_account_id = ledger_accounts.id "
        "OR t.credit_account_id = ledger_accounts.id)"
    )
    op.drop_index("uq_ledger_accounts_station_kind", table_name="ledger_accounts")
    op.drop_index("uq_ledger_accounts_system_kind", table_name="ledger_accounts")
    op.create_index(
        "uq_ledger_accounts_system_kind",
        "ledger_accounts",
        ["kind"],
        unique=True,
        sqlite_where=sa.text("customer_id IS NULL"),
        postgresql_where=sa.text("customer_id IS NULL"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE ledger_accounts DROP COLUMN station_id")
    else:
        op.drop_constraint(op.f("ck_ledger_accounts_station_kind"), "ledger_accounts", type_="check")
        op.drop_constraint(op.f("fk_ledger_accounts_station_id_stations"), "ledger_accounts", type_="foreignkey")
        op.drop_column("ledger_accounts", "station_id")
