"""Allocation, collection, receipts and deposits through the browser-facing views."""

import re

import pytest

from portal import ledger
from portal.funds.models import Deposit, FundsBatch
from tests.builders import PASSWORD, UNIT_A, funds_customers, reserve_balance, unit_balance
from tests.web.conftest import count, csrf_token, peek, signed_in


def unit(session, customer_id):
    return peek(session, lambda: unit_balance(session, customer_id))


def reserve(session, card_id):
    return peek(session, lambda: reserve_balance(session, card_id))


@pytest.fixture
def world(session, clock):
    w = funds_customers(session, clock.now())
    session.commit()
    return w


def post_table(client, path, data):
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def batch_id_of(response) -> str:
    match = re.search(r"/funds/batches/([0-9a-f]{32})", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def test_allocate_preview_confirm_receipt(client, session, world):
    w = world
    signed_in(client, "admin_a")
    page = client.get("/funds/allocate")
    assert page.status_code == 200 and w.a1_number[:4] in page.get_data(as_text=True)
    response = post_table(
        client, "/funds/allocate", {f"amount-{w.a1}": "1,000.50", f"amount-{w.a2}": "20", "action": "preview"}
    )
    assert response.status_code == 302
    batch_id = batch_id_of(response)
    preview = client.get(f"/funds/batches/{batch_id}").get_data(as_text=True)
    assert "1,020.50" in preview
    assert unit(session, w.a) == UNIT_A  # nothing moved at preview
    token = csrf_token(client, f"/funds/batches/{batch_id}")
    wrong = client.post(f"/funds/batches/{batch_id}/confirm", data={"csrf_token": token, "password": "nope"})
    assert wrong.status_code == 422
    assert unit(session, w.a) == UNIT_A
    ok = client.post(f"/funds/batches/{batch_id}/confirm", data={"csrf_token": token, "password": PASSWORD})
    assert ok.status_code == 302 and ok.headers["Location"].endswith(f"/funds/batches/{batch_id}/receipt")
    # the browser retries / the admin double-clicks: nothing posts twice
    again = client.post(f"/funds/batches/{batch_id}/confirm", data={"csrf_token": token, "password": PASSWORD})
    assert again.status_code == 302
    assert unit(session, w.a) == UNIT_A - 102050
    assert reserve(session, w.a1) == 100050
    assert count(session, session.query(ledger.Transfer).filter(ledger.Transfer.code == "allocation")) == 2
    receipt = client.get(f"/funds/batches/{batch_id}/receipt")
    assert receipt.status_code == 200 and batch_id in receipt.get_data(as_text=True)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("1.234", "two decimal"), ("-5", "negative"), ("10000.01", "more than the unit account"), ("abc", "not a number")],
)
def test_bad_amounts_change_nothing(client, session, world, amount, expected):
    w = world
    client.set_cookie("lang", "en")
    signed_in(client, "admin_a")
    response = post_table(client, "/funds/allocate", {f"amount-{w.a1}": amount, "action": "preview"})
    assert response.status_code == 422
    assert expected in response.get_data(as_text=True)
    assert count(session, session.query(FundsBatch)) == 0


def test_split_equally_and_top_up_are_computed_by_the_server(client, world):
    w = world
    signed_in(client, "admin_a")
    page = post_table(
        client, "/funds/allocate",
        {f"pick-{w.a1}": "1", f"pick-{w.a2}": "1", f"pick-{w.a3}": "1", "split_total": "100", "action": "split"},
    ).get_data(as_text=True)  # fmt: skip
    assert f'name="amount-{w.a1}" inputmode="decimal" autocomplete="off" size="10" value="33.34"' in page
    assert f'name="amount-{w.a3}" inputmode="decimal" autocomplete="off" size="10" value="33.33"' in page
    page = post_table(client, "/funds/allocate", {f"pick-{w.a2}": "1", "topup_target": "50", "action": "topup"})
    assert 'value="50.00"' in page.get_data(as_text=True)


def upload(client, content: bytes):
    return client.post(
        "/funds/allocate/upload",
        data={
            "csrf_token": csrf_token(client, "/funds/allocate"),
            "file": (__import__("io").BytesIO(content), "a.csv"),
        },
        content_type="multipart/form-data",
    )


def test_csv_upload_with_problems_lists_them_by_line_and_applies_nothing(client, session, world):
    w = world
    client.set_cookie("lang", "en")
    signed_in(client, "admin_a")
    content = (
        f"card_number,amount\n{w.a1_number},10\n{w.a1_number},5\n{w.b1_number},1\n{w.a_lost_number},1\n"
        f"{w.a_closed_number},1\n{w.a2_number},1.001\n{w.a3_number},-1\n"
    ).encode()
    page = upload(client, content)
    text = page.get_data(as_text=True)
    assert page.status_code == 422
    for line in (3, 4, 5, 6, 7, 8):
        assert f"Line {line}:" in text
    assert "Line 2:" not in text
    assert count(session, session.query(FundsBatch)) == 0
    assert upload(client, b"number,sum\n1,2\n").status_code == 422


def test_csv_upload_previews_and_confirms(client, session, world):
    w = world
    signed_in(client, "admin_a")
    response = upload(client, f'卡号,金额\n{w.a1_number},10\n{w.a2_number},"1,000"\n'.encode("gb18030"))
    assert response.status_code == 302
    batch = session.get(FundsBatch, batch_id_of(response))
    assert (batch.source, batch.total, [ln.line_no for ln in batch.lines]) == ("csv", 101000, [2, 3])
    session.rollback()


def test_collect_everything_from_ticked_cards(client, session, world):
    w = world
    signed_in(client, "admin_a")
    response = post_table(client, "/funds/allocate", {f"amount-{w.a1}": "300", "action": "preview"})
    batch_id = batch_id_of(response)
    token = csrf_token(client, f"/funds/batches/{batch_id}")
    client.post(f"/funds/batches/{batch_id}/confirm", data={"csrf_token": token, "password": PASSWORD})
    page = post_table(client, "/funds/collect", {f"pick-{w.a1}": "1", "action": "all"}).get_data(as_text=True)
    assert 'value="300.00"' in page
    response = post_table(client, "/funds/collect", {f"amount-{w.a1}": "300.00", "action": "preview"})
    batch_id = batch_id_of(response)
    token = csrf_token(client, f"/funds/batches/{batch_id}")
    client.post(f"/funds/batches/{batch_id}/confirm", data={"csrf_token": token, "password": PASSWORD})
    assert reserve(session, w.a1) == 0 and unit(session, w.a) == UNIT_A


def test_staff_record_deposits_for_their_region_and_admins_see_them(client, session, world):
    w = world
    signed_in(client, "staff_r1")
    page = client.get("/funds/deposits").get_data(as_text=True)
    key = re.search(r'name="key" type="hidden" value="([0-9a-f]{32})"', page).group(1)
    data = {"csrf_token": csrf_token(client, "/funds/deposits"), "key": key, "customer_id": w.b, "amount": "5,000",
            "bank_reference": "ICBC-778899", "memo": "March"}  # fmt: skip
    preview = client.post("/funds/deposits", data=data)  # only a preview: nothing recorded yet
    assert preview.status_code == 200 and count(session, session.query(Deposit)) == 0
    confirm = {**data, "password": PASSWORD}
    assert client.post("/funds/deposits/confirm", data=confirm).status_code == 302
    assert client.post("/funds/deposits/confirm", data=confirm).status_code == 302  # double submit: same key
    assert count(session, session.query(Deposit)) == 1
    assert unit(session, w.b) == 500000
    # a customer of another region is not offered and not accepted
    refused = client.post("/funds/deposits", data={**data, "key": "f" * 32, "customer_id": w.c, "bank_reference": "X"})
    assert refused.status_code == 422
    refused = client.post("/funds/deposits/confirm", data={**confirm, "key": "f" * 32, "customer_id": w.c})
    assert refused.status_code == 422
    assert count(session, session.query(Deposit)) == 1
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/funds/deposits")})
    signed_in(client, "admin_b")
    assert "ICBC-778899" in client.get("/funds/deposits").get_data(as_text=True)
    assert (
        client.post("/funds/deposits", data={**data, "csrf_token": csrf_token(client, "/funds/deposits")}).status_code
        == 403
    )


def test_pick_all_fills_every_card(client, world):
    w = world
    signed_in(client, "admin_a")
    page = post_table(client, "/funds/allocate", {"pick_all": "1", "split_total": "3", "action": "split"})
    text = page.get_data(as_text=True)
    for card_id in (w.a1, w.a2, w.a3):
        assert f'name="amount-{card_id}" inputmode="decimal" autocomplete="off" size="10" value="1.00"' in text
