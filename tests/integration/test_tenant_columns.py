"""Every row that belongs to a customer names it (`customer_id`): a distributed engine places rows by
it, a partition or a query prunes by it (docs/scaling.md). A new table fails here until it has the
column or is listed, with its reason, among the global tables. (Migration 0019 added the column
where it was missing; tests/integration/test_migrations_data.py checks its backfill.)
"""

from __future__ import annotations

import portal.models  # noqa: F401
from portal.db import Base

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
