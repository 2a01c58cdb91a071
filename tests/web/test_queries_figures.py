"""Figures on the query pages that the tie-out test reads only in sums: a replacement card's points
and a load's single row with its state (issue 12)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import ledger
from tests.conftest import T0
from tests.web.conftest import signed_in


@pytest.fixture
def world(queries_world):
    return queries_world


def test_a_replacement_shows_the_points_it_moved_not_plus_zero(client, session, world):
    c1, c3 = world.cards["c1"], world.cards["c3"]
    old = ledger.card_account(session, c1.id, "points")
    moved = ledger.balance(old)
    request = ledger.TransferRequest("carry-points", old.id, ledger.card_account(session, c3.id, "points").id, moved,
                                     "replacement")  # fmt: skip
    ledger.transfer(session, request, now=T0 - timedelta(minutes=5))
    session.commit()
    signed_in(client, "acme_admin")
    html = client.get("/queries/points?preset=this_month&type=").get_data(as_text=True)
    row = next(line for line in html.split("<tr>") if "9030 0000 0000 0001 → 9030 0000 0000 0003" in line)
    assert f"data-moved>{moved:,}<" in row
    assert "+0" not in html


def test_a_load_is_one_row_with_its_state(client, session, world):
    """fleet_history holds one load on c2; once written to the chip it is still one row and one count."""
    pending = session.scalar(select(ledger.Transfer).where(ledger.Transfer.kind == "pending"))
    ledger.post_pending(session, "written", pending.id, now=T0 - timedelta(hours=1))
    session.commit()
    signed_in(client, "acme_admin")
    html = client.get("/queries/account-transactions?preset=this_month&type=load").get_data(as_text=True)
    assert html.count("<tr><td>") == 1
    assert "× 1<" in html and "× 2<" not in html
    assert "已写卡" in html  # its state, in the chip pages' words
