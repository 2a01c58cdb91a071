"""Points redemption in the portal: choose, confirm, receipt; once per form however often it is
submitted; clear refusals; admins for any card of theirs, drivers for their own only."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import ledger
from tests.builders import PASSWORD
from tests.web.conftest import Db, csrf_token, login

URL = "/rewards/redeem"


@pytest.fixture
def world(app, fleet_ids):
    one, two = fleet_ids

    def give_points(s):
        issued = ledger.system_account(s, "points_issued", ledger.POINTS)
        for n, card_id in enumerate([one.cards[0], one.cards[1], two.cards[0]]):
            account = ledger.card_account(s, card_id, "points")
            ledger.transfer(
                s, ledger.TransferRequest(f"earn-{n}", issued.id, account.id, 2_500, "points_earn"), now=_now(app)
            )

    Db(app)(give_points)
    return one, two


def _now(app):
    return app.extensions["portal.clock"].now()


def points_of(app, card_id: int) -> int:
    return Db(app)(lambda s: ledger.available(ledger.card_account(s, card_id, "points")))


def redemptions(app) -> int:
    from portal.points.models import PointsRedemption

    return Db(app)(lambda s: s.scalar(select(func.count(PointsRedemption.id))))


def form_key(page: str) -> str:
    return re.search(r'name="key" type="hidden" value="([0-9a-f]{32})"', page).group(1)


def preview(client, card_id, points, key=None):
    page = client.get(URL).get_data(as_text=True)
    data = {"card_id": card_id, "points": points, "key": key or form_key(page), "csrf_token": csrf_token(client, URL)}
    return client.post(URL, data=data)


def confirm_data(page: str) -> dict:
    form = page.split('data-testid="confirm-form"')[1].split("</form>")[0]
    return dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', form))


def test_admin_redeems_two_blocks_with_confirmation_and_receipt(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    page = client.get(URL).get_data(as_text=True)
    assert "2,500" in page and "¥20.00" in page  # 2,500 points: 2 whole blocks = 20 yuan
    shown = preview(client, one.cards[1], "2000")
    assert shown.status_code == 200
    body = shown.get_data(as_text=True)
    assert "¥20.00" in body and 'data-testid="confirm-form"' in body
    assert points_of(app, one.cards[1]) == 2_500 and redemptions(app) == 0  # nothing yet

    done = client.post("/rewards/confirm", data=confirm_data(body))
    assert done.status_code == 302 and "/rewards/receipts/" in done.headers["Location"]
    receipt = client.get(done.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="receipt-points">2,000<' in receipt and 'data-testid="receipt-value">¥20.00<' in receipt
    assert points_of(app, one.cards[1]) == 500 and redemptions(app) == 1

    # The same confirmation again (double click, browser retry): nothing more is redeemed.
    again = client.post("/rewards/confirm", data=confirm_data(body))
    assert again.status_code == 302 and again.headers["Location"] == done.headers["Location"]
    assert points_of(app, one.cards[1]) == 500 and redemptions(app) == 1
    assert "没有重复兑换" in client.get(again.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(
    ("points", "status", "message"),
    [
        ("1500", 422, "整块"),  # not a whole block
        ("3000", 409, "没有这么多积分"),  # more than the card has
        ("0", 422, None),
        ("abc", 422, None),
        ("1000.5", 422, None),
    ],
)
def test_bad_amounts_get_a_clear_message_and_redeem_nothing(app, client, world, points, status, message):
    one, _ = world
    login(client, one.admin, PASSWORD)
    response = preview(client, one.cards[0], points)
    assert response.status_code == status
    if message:
        assert message in response.get_data(as_text=True)
    assert points_of(app, one.cards[0]) == 2_500 and redemptions(app) == 0


def test_a_foreign_card_is_refused_in_the_form_and_in_the_confirmation(app, client, world):
    one, two = world
    login(client, one.admin, PASSWORD)
    response = preview(client, two.cards[0], "1000")
    assert response.status_code == 404 and "不是您的卡" in response.get_data(as_text=True)
    key = form_key(client.get(URL).get_data(as_text=True))
    forged = {"card_id": two.cards[0], "points": "1000", "key": key, "csrf_token": csrf_token(client, URL)}
    assert client.post("/rewards/confirm", data=forged).status_code == 404
    assert points_of(app, two.cards[0]) == 2_500 and redemptions(app) == 0


def test_a_key_cannot_be_reused_for_another_redemption(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    body = preview(client, one.cards[0], "1000").get_data(as_text=True)
    data = confirm_data(body)
    assert client.post("/rewards/confirm", data=data).status_code == 302
    response = client.post("/rewards/confirm", data={**data, "points": "2000"})
    assert response.status_code == 409
    assert points_of(app, one.cards[0]) == 1_500 and redemptions(app) == 1


def test_a_missing_or_forged_key_redeems_nothing(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    token = csrf_token(client, URL)
    for key in ("", "not-a-uuid"):
        data = {"card_id": one.cards[0], "points": "1000", "key": key, "csrf_token": token}
        assert client.post("/rewards/confirm", data=data).status_code == 422
        assert client.post(URL, data=data).status_code == 422
    assert redemptions(app) == 0


def test_a_lost_card_cannot_redeem(app, client, world):
    one, _ = world

    def report(s):
        from portal.cards.loss import report_loss
        from portal.cards.models import Card

        report_loss(s, s.get(Card, one.cards[0]), reason="lost", actor_id=None, now=_now(app))

    Db(app)(report)
    login(client, one.admin, PASSWORD)
    response = preview(client, one.cards[0], "1000")
    assert response.status_code == 409 and "挂失" in response.get_data(as_text=True)
    assert redemptions(app) == 0


def test_the_password_must_have_been_entered_recently(app, client, clock, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    body = preview(client, one.cards[0], "1000").get_data(as_text=True)
    clock.advance(timedelta(minutes=6))
    response = client.post("/rewards/confirm", data=confirm_data(body))
    assert response.status_code == 302 and "/auth/confirm-password" in response.headers["Location"]
    assert client.get(URL).status_code == 302
    assert redemptions(app) == 0
    client.post(
        "/auth/confirm-password",
        data={"password": PASSWORD, "csrf_token": csrf_token(client, "/auth/confirm-password")},
    )
    assert client.get(URL).status_code == 200


def test_a_driver_redeems_only_for_their_own_card(app, client, world):
    one, _ = world
    login(client, one.driver_user, PASSWORD)
    page = client.get(URL).get_data(as_text=True)
    assert f'data-testid="points-{one.cards[0]}"' in page and f'data-testid="points-{one.cards[1]}"' not in page
    assert preview(client, one.cards[1], "1000").status_code == 404  # the customer's, but not theirs
    body = preview(client, one.cards[0], "1000").get_data(as_text=True)
    done = client.post("/rewards/confirm", data=confirm_data(body))
    assert done.status_code == 302 and points_of(app, one.cards[0]) == 1_500


def test_receipts_of_others_are_404(app, client, world):
    one, two = world
    login(client, one.admin, PASSWORD)
    done = client.post(
        "/rewards/confirm", data=confirm_data(preview(client, one.cards[1], "1000").get_data(as_text=True))
    )
    receipt = done.headers["Location"]
    other = app.test_client()
    login(other, two.admin, PASSWORD)
    assert other.get(receipt).status_code == 404
    driver = app.test_client()
    login(driver, one.driver_user, PASSWORD)
    assert driver.get(receipt).status_code == 404  # card 2 is not the driver's


@pytest.mark.parametrize("who", ["staff1"])
def test_staff_and_sysadmin_get_403(app, client, clock, world, who):
    from portal.auth.services import create_user

    Db(app)(lambda s: create_user(s, username="root", password=PASSWORD, role="sysadmin", rounds=4, now=clock.now()))
    for user in (who, "root"):
        c = app.test_client()
        login(c, user, PASSWORD)
        assert c.get(URL).status_code == 403
        assert c.post("/rewards/confirm", data={"csrf_token": csrf_token(c, "/")}).status_code == 403
