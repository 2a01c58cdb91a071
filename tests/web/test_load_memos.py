"""A load is one movement described by its state, on the account-transactions page and in its CSV
alike: a written load no longer says it is waiting (issue 12)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import ledger
from portal.ledger import memos
from tests.conftest import T0
from tests.web.conftest import signed_in

WAITING = ("圈存已申请，等待写入芯片", "Load requested; waiting to be written to the chip")
WRITTEN = ("已写入芯片", "Written to the chip")
CANCELLED = ("圈存已取消，资金退回备付金", "Load cancelled; the money is back in the reserve")
EXPIRED = ("圈存已过期，资金退回备付金", "Load expired; the money is back in the reserve")
MEMOS = (WAITING, WRITTEN, CANCELLED, EXPIRED)


def written(session, pending):
    ledger.post_pending(session, "written", pending.id, now=T0 - timedelta(hours=1))


def cancelled(session, pending):
    # A cancel made by older code, with no reason in its memo: the state (before the hold lapsed) says it.
    ledger.void_pending(session, "cancelled", pending.id, now=T0 - timedelta(hours=1))


def expired(session, pending):
    ledger.void_pending(session, "expired", pending.id, now=pending.expires_at, memo=memos.structured(reason="expired"))


def load_memos(client, lang):
    """The memo of the load row on the page and in the CSV (the only load in fleet_history)."""
    client.set_cookie("lang", lang)
    query = "preset=this_month&type=load"
    html = client.get(f"/queries/account-transactions?{query}").get_data(as_text=True)
    on_page = [text for pair in MEMOS for text in pair if text in html]
    body = client.get(f"/queries/account-transactions/export.csv?{query}").get_data()
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[1:]
    return on_page, [row[6] for row in rows]


@pytest.mark.parametrize(
    ("resolve", "expected"), [(None, WAITING), (written, WRITTEN), (cancelled, CANCELLED), (expired, EXPIRED)]
)
def test_a_load_is_described_by_its_state_on_the_page_and_in_the_csv(client, session, queries_world, resolve, expected):
    pending = session.scalar(select(ledger.Transfer).where(ledger.Transfer.kind == "pending"))
    if resolve is not None:
        resolve(session, pending)
    session.commit()
    signed_in(client, "acme_admin")
    for index, lang in enumerate(("zh_CN", "en")):
        assert load_memos(client, lang) == ([expected[index]], [expected[index]]), lang
