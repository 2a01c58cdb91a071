"""Every kind of journal row reads as a sentence in the reader's language, new rows (structured
memos) and old ones (English sentences) alike; the stored memo itself is never shown."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from portal.ledger import memos
from tests.builders import create_product, create_region, create_station


def describe(app, code, memo, kind="posted", lang=None):
    from portal.web.memos import describe_transfer

    headers = {"Cookie": f"lang={lang}"} if lang else {}
    with app.test_request_context("/", headers=headers):
        return describe_transfer(SimpleNamespace(code=code, kind=kind, memo=memo))


@pytest.fixture
def station_id(app, session):
    create_product(session, "0")
    station = create_station(session, "BJ0002", create_region(session, "11"), name="中石油北京望京加油站")
    session.commit()
    return station.id


def cases(station_id):
    """(code, kind, new memo, old memo, Chinese text, English text)"""
    purchase = memos.structured(source="offline", product="0", station=station_id)
    return [
        ("deposit", "posted", memos.structured(bank="TEST-DEP-001"), "bank TEST-DEP-001",
         "银行转账 TEST-DEP-001", "Bank transfer TEST-DEP-001"),
        ("allocation", "posted", memos.structured(batch="86f6a1"), "allocation 86f6a1",
         "由单位账户分配", "Allocated from the unit account"),
        ("collection", "posted", memos.structured(batch="86f6a1"), "collection 86f6a1",
         "归集至单位账户", "Collected back to the unit account"),
        ("load", "pending", memos.structured(load="k1"), "load to chip",
         "圈存已申请，等待写入芯片", "Load requested; waiting to be written to the chip"),
        ("load", "post_pending", "", "", "已写入芯片", "Written to the chip"),
        ("load", "void_pending", memos.structured(reason="cancelled"), "",
         "圈存已", "the money is back in the reserve"),
        ("load", "void_pending", memos.structured(reason="expired"), "expired",
         "圈存已过期，资金退回备付金", "Load expired; the money is back in the reserve"),
        ("purchase", "posted", purchase, f"offline purchase 0 at station {station_id}",
         "脱机消费：0#柴油，中石油北京望京加油站", "Offline purchase: 0# diesel, 中石油北京望京加油站"),
        ("refund", "posted", memos.structured(purchase=41), "refund of purchase 41",
         "退款（原消费编号 41）", "Refund of purchase no. 41"),
        ("replacement", "posted", memos.structured(old_card="9030000100000110", new_card="9030000100000199"),
         "9030000100000110 -> 9030000100000199", "补卡：余额由 9030 0001 0000 0110 转入 9030 0001 0000 0199",
         "Card replaced: balance moved from 9030 0001 0000 0110 to 9030 0001 0000 0199"),
        ("points_earn", "posted", memos.structured(purchase=41), "purchase pos:3:17", "消费积分", "Points for a purchase"),
        ("reversal", "posted", memos.structured(reason="refund"), "refund", "退款扣回积分", "Points taken back for a refund"),
        ("points_redeem", "posted", memos.structured(voucher_fen=2000, channel="portal"), "voucher 2000 fen (portal)",
         "兑换加油券 ¥20.00（网上营业厅）", "Fuel voucher of ¥20.00 (online service)"),
        ("points_expire", "posted", memos.structured(earned_before="2026-01-31"), "earned before 2026-01-31",
         "2026-01-31 前获得的积分已过期", "Points earned before 2026-01-31 expired"),
        ("deposit", "posted", "", "demo", "银行转账", "Bank transfer"),
    ]  # fmt: skip


def test_new_and_old_rows_read_the_same_in_both_languages(app, station_id):
    for code, kind, new, old, zh, en in cases(station_id):
        for memo in (new, old):
            assert zh in describe(app, code, memo, kind), (code, kind, memo)
            assert en in describe(app, code, memo, kind, lang="en"), (code, kind, memo)


def test_an_unknown_english_memo_is_never_shown(app):
    assert describe(app, "reversal", "wrong card") == "冲正"
    assert describe(app, "purchase", "something else entirely") == "消费"
