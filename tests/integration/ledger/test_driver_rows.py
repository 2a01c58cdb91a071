"""The ledger's hot statements run on the driver's cursor (accounts.driver_rows): same transaction,
same errors as any SQLAlchemy statement."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, text

from portal.ledger.accounts import driver_rows


def test_rows_come_back_inside_the_sessions_transaction(session, books):
    session.commit()
    connection = session.connection()
    unit = books.holders[0].unit
    driver_rows(connection, f"UPDATE ledger_accounts SET frozen = TRUE WHERE id = {unit:d}", {})  # noqa: S608 (an int)
    # Seen by the ORM's own connection: it is the same transaction.
    assert session.execute(text("SELECT frozen FROM ledger_accounts WHERE id = :i"), {"i": unit}).scalar()
    session.rollback()
    assert not session.execute(text("SELECT frozen FROM ledger_accounts WHERE id = :i"), {"i": unit}).scalar()
    assert driver_rows(session.connection(), "SELECT 1, 2", {}) == [(1, 2)]


def test_driver_errors_come_out_as_sqlalchemy_errors(session, books):
    with pytest.raises(exc.IntegrityError):
        driver_rows(session.connection(), "INSERT INTO ledger_accounts (ledger, kind) VALUES (NULL, NULL)", {})
    session.rollback()
