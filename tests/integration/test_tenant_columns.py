"""Every row that belongs to a customer names it (`customer_id`): a distributed engine places rows by
it, a partition or a query prunes by it (docs/scaling.md). A new table fails here until it has the
column or is listed, with its reason, among the global tables.

Migration 0019 added the column where it was missing and backfilled it: tested on a database of its
own, migrated to 0015 (the revision before it), filled, upgraded, and downgraded again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

import portal.models  # noqa: F401
from portal.db import Base, make_engine
from portal.schema import alembic_config, upgrade

#: Tables with no customer, and why. Everything else is a tenant table.
GLOBAL_TABLES = {
    "customers": "the tenants themselves (distributed by their own id)",
    "regions": "reference data, the same for every customer",
    "products": "reference data",
    "stations": "reference data: 22,000 stations every customer buys at",
    "station_prices": "reference data, per station",
    "terminals": "a station's pumps, serving every customer",
    "points_rules": "the points programme's rules, for every customer",
    "ledger_transfers": "the journal: a purchase moves money from a customer's purse to a system "
    "account, so a transfer spans a tenant and the house; its accounts carry customer_id (docs/scaling.md)",
    "job_runs": "the scheduler's own records",
    "outbox_messages": "mail and SMS to an address, some before any customer exists (registration codes)",
    "sign_in_throttles": "counted by address or typed name, before anyone is known",
    "captcha_challenges": "shown before anyone is known",
}

#: Tenant tables whose customer_id may be NULL, and why: every other tenant row always belongs to one.
NULLABLE = {
    "users": "staff and system admins belong to no customer",
    "login_sessions": "a staff user's or a system admin's session",
    "password_history": "a staff user's or a system admin's passwords",
    "audit_events": "actions of staff and system admins on no customer",
    "one_time_codes": "a password-reset link of a staff user",
    "ledger_accounts": "the system accounts (station sales, points issued...)",
}


def test_every_tenant_table_has_its_customer_id():
    tables = Base.metadata.tables
    missing = sorted(
        name for name, table in tables.items() if name not in GLOBAL_TABLES and "customer_id" not in table.c
    )
    assert missing == [], "add customer_id, or list the table in GLOBAL_TABLES with its reason"
    assert set(GLOBAL_TABLES) <= set(tables), "a global table that no longer exists"


def test_customer_id_is_not_null_where_a_row_always_belongs_to_a_customer():
    nullable = sorted(
        name
        for name, table in Base.metadata.tables.items()
        if "customer_id" in table.c and table.c.customer_id.nullable
    )
    assert nullable == sorted(NULLABLE)


def test_customer_id_refers_to_the_customers():
    for name, table in Base.metadata.tables.items():
        if "customer_id" in table.c and name != "customers":
            targets = {fk.column.table.name for fk in table.c.customer_id.foreign_keys}
            assert targets == {"customers"}, name


# --- migration 0019's backfill ------------------------------------------------------------------

STAMP = datetime(2026, 3, 1, tzinfo=UTC).replace(tzinfo=None)

#: Rows as they were before 0019 (no customer_id), parents first.
ROWS = [
    "INSERT INTO regions (id, code, name_zh, name_en) VALUES (1, '11', '北京', 'Beijing')",
    "INSERT INTO customers (id, name, credit_code, region_id, contact_name, phone, email, address, invoice_title, "
    "invoice_tax_number, created_at, mobile, finance_contact_name, finance_phone, finance_email, postcode, "
    "invoice_address, invoice_phone, invoice_bank, invoice_bank_account) VALUES "
    "(7, 'A', '91110000000000007A', 1, '', '', '', '', '', '', :at, '', '', '', '', '', '', '', '', ''), "
    "(8, 'B', '91110000000000008B', 1, '', '', '', '', '', '', :at, '', '', '', '', '', '', '', '', '')",
    "INSERT INTO cards (id, number, customer_id, role, status, nickname, issued_at, expires_on) VALUES "
    "(70, '9000000000000070', 7, 'sub', 'active', '', :at, '2030-01-01'), "
    "(80, '9000000000000080', 8, 'sub', 'active', '', :at, '2030-01-01')",
    "INSERT INTO card_controls (card_id, version, updated_at, allowed_products, allowed_region_ids, "
    "allowed_station_ids, plate_lock) VALUES (70, 1, :at, '[]', '[]', '[]', ''), (80, 1, :at, '[]', '[]', '[]', '')",
    "INSERT INTO virtual_chips (id, card_id, purse_balance, counter, controls, controls_version, blocked, "
    "expires_on, personalised_at, written_at) VALUES (1, 80, 100, 1, '{}', 0, false, '2030-01-01', :at, :at)",
    "INSERT INTO virtual_chip_entries (id, chip_id, counter, kind, amount, balance_after, at, station_code, "
    "product_code, litres_ml, load_id) VALUES (1, 1, 1, 'load', 100, 100, :at, '', '', 0, 'L1')",
    "INSERT INTO chip_syncs (id, card_id, at, reader, purchases_uploaded, loads_applied, controls_version, blocked, "
    "chip_counter) VALUES (1, 80, :at, 'virtual', 0, 1, 0, false, 1)",
    "INSERT INTO chip_purchase_uploads (id, card_id, counter, amount, station_code, product_code, litres_ml, "
    "purchased_at, uploaded_at, transfer_id) VALUES (1, 70, 1, 100, '', '', 0, :at, :at, 'c1')",
    "INSERT INTO users (id, username, password_hash, role, display_name, customer_id, region_id, email, phone, "
    "active, failed_sign_ins, password_changed_at, must_change_password, created_at) VALUES "
    "(1, 'a7', 'x', 'admin', '', 7, NULL, '', '', true, 0, :at, false, :at), "
    "(2, 'staff', 'x', 'staff', '', NULL, 1, '', '', true, 0, :at, false, :at)",
    "INSERT INTO funds_batches (id, customer_id, kind, status, source, total, line_count, created_by, created_at) "
    "VALUES ('b1', 8, 'allocation', 'draft', 'form', 100, 1, 1, :at)",
    "INSERT INTO funds_batch_lines (id, batch_id, line_no, card_id, amount) VALUES (1, 'b1', 1, 80, 100)",
    "INSERT INTO login_sessions (id, user_id, token_hash, created_at, last_seen_at, reauthenticated_at, ip, "
    "user_agent) VALUES (1, 1, 't1', :at, :at, :at, '', ''), (2, 2, 't2', :at, :at, :at, '', '')",
    "INSERT INTO password_history (id, user_id, password_hash, set_at) VALUES (1, 1, 'x', :at), (2, 2, 'x', :at)",
]

BACKFILLED = {
    "card_controls": [(70, 7), (80, 8)],
    "virtual_chips": [(1, 8)],
    "virtual_chip_entries": [(1, 8)],
    "chip_syncs": [(1, 8)],
    "chip_purchase_uploads": [(1, 7)],
    "funds_batch_lines": [(1, 8)],
    "login_sessions": [(1, 7), (2, None)],
    "password_history": [(1, 7), (2, None)],
}


@pytest.fixture
def scratch(database_url, tmp_path):
    """A connection to an empty database of the test's own: a new SQLite file, or on PostgreSQL a
    schema of its own first on the search path (dropped afterwards)."""
    if database_url.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
        with engine.connect() as conn:
            yield conn
        engine.dispose()
        return
    engine = create_engine(database_url)
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS tenant_backfill CASCADE"))
        conn.execute(text("CREATE SCHEMA tenant_backfill"))
        conn.execute(text("SET search_path TO tenant_backfill"))
        conn.commit()
        yield conn
        conn.rollback()
        conn.execute(text("DROP SCHEMA tenant_backfill CASCADE"))
        conn.commit()
    engine.dispose()


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index:sqlalchemy.exc.SAWarning")
def test_migration_0019_backfills_customer_id_from_the_owning_rows(scratch):
    upgrade(scratch, "0015")
    for statement in ROWS:
        scratch.execute(text(statement), {"at": STAMP})
    upgrade(scratch, "0019")
    for table, expected in BACKFILLED.items():
        key = "card_id" if table == "card_controls" else "id"
        rows = scratch.execute(text(f"SELECT {key}, customer_id FROM {table} ORDER BY {key}")).all()  # noqa: S608
        assert [tuple(r) for r in rows] == expected, table
    command.downgrade(alembic_config(scratch), "0015")  # and back, keeping every row
    assert scratch.execute(text("SELECT count(*) FROM virtual_chip_entries")).scalar() == 1
    assert "customer_id" not in {c["name"] for c in inspect(scratch).get_columns("virtual_chips")}
    scratch.rollback()
