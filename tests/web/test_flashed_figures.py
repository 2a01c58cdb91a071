"""What the portal says after an action, in Chinese: amounts as ¥1,234.56, points and counts grouped,
no English and no internal names; a contact a reset link went to is masked. Query-string errors name
the field as the page labels it, never the parameter; alert texts group their figures."""

from __future__ import annotations

import html
import re

import pytest

from portal.funds import services as funds
from portal.funds.plan import RawLine
from tests.builders import PASSWORD, funds_customers
from tests.web.chinese_text import UNGROUPED_FIGURE, offending_words, visible_text
from tests.web.conftest import csrf_token, signed_in

#: The worlds' own Latin data (user names, mail domains) a Chinese page may show.
DATA = {"admin_a", "staff_r1", "bj_support", "example.cn"}
FLASH = re.compile(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', re.S)


def follow(client, response) -> tuple[list[str], str]:
    """The success messages shown on the page the action redirected to, and that page."""
    assert response.status_code == 302, response.status_code
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    found = FLASH.findall(page)
    return [html.unescape(text).strip() for category, text in found if category == "success"], page


def flashes(client, response) -> list[str]:
    return follow(client, response)[0]


def form_key(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="key" type="hidden" value="([0-9a-f]{32})"', page).group(1)


def chinese(text: str) -> str:
    assert not offending_words(text, DATA), text
    return text


@pytest.fixture
def world(session, clock):
    w = funds_customers(session, clock.now())
    lines = [RawLine(1, w.a1_number, "2000")]
    batch = funds.prepare_batch(session, customer_id=w.a, kind="allocation", lines=lines, actor_id=w.admin_a,
                                now=clock.now())  # fmt: skip
    funds.confirm_batch(session, batch, actor_id=w.admin_a, now=clock.now())
    session.commit()
    return w


def test_a_load_request_says_the_amount_with_yuan_sign_and_separators(client, world):
    signed_in(client, "admin_a")
    data = {"csrf_token": csrf_token(client, "/chips/load"), "key": form_key(client, "/chips/load"),
            "card_id": world.a1, "amount": "1234.56", "password": PASSWORD}  # fmt: skip
    (message,) = flashes(client, client.post("/chips/load", data=data))
    assert "¥1,234.56" in chinese(message) and "元" not in message


def test_an_allocation_says_its_card_count_and_total_as_money(client, world):
    signed_in(client, "admin_a")
    data = {"csrf_token": csrf_token(client, "/funds/allocate"), f"amount-{world.a2}": "1,000.50",
            f"amount-{world.a3}": "20", "action": "preview"}  # fmt: skip
    preview = client.post("/funds/allocate", data=data)
    batch_url = preview.headers["Location"]
    confirm = {"csrf_token": csrf_token(client, batch_url), "password": PASSWORD}
    (message,) = flashes(client, client.post(f"{batch_url}/confirm", data=confirm))
    assert chinese(message) == "完成：2 张卡，合计 ¥1,020.50。"


def test_a_deposit_says_its_amount_as_money(client, world):
    signed_in(client, "staff_r1")
    data = {"csrf_token": csrf_token(client, "/funds/deposits"), "key": form_key(client, "/funds/deposits"),
            "customer_id": world.b, "amount": "12,345", "bank_reference": "ICBC-778899", "password": PASSWORD}  # fmt: skip
    (message,) = flashes(client, client.post("/funds/deposits/confirm", data=data))
    assert "¥12,345.00" in chinese(message) and "元" not in message


def test_a_redemption_says_points_grouped_and_the_voucher_as_money(app, client, fleet_ids):
    from portal import ledger
    from tests.web.conftest import Db

    one, _two = fleet_ids

    def give_points(s):
        issued = ledger.system_account(s, "points_issued", ledger.POINTS)
        account = ledger.card_account(s, one.cards[0], "points")
        ledger.transfer(s, ledger.TransferRequest("earn-many", issued.id, account.id, 31_238, "points_earn"),
                        now=app.extensions["portal.clock"].now())  # fmt: skip

    Db(app)(give_points)
    signed_in(client, one.admin)
    page = client.get("/rewards/redeem").get_data(as_text=True)
    assert f'data-testid="points-{one.cards[0]}">31,238<' in page and not UNGROUPED_FIGURE.findall(page)
    assert "（31,238 积分）" in page  # the card list of the form, built in Python
    data = {"card_id": one.cards[0], "points": "30000", "key": form_key(client, "/rewards/redeem"),
            "csrf_token": csrf_token(client, "/rewards/redeem")}  # fmt: skip
    body = client.post("/rewards/redeem", data=data).get_data(as_text=True)
    form = body.split('data-testid="confirm-form"')[1].split("</form>")[0]
    confirm = dict(re.findall(r'name="([a-z_]+)" type="hidden" value="([^"]*)"', form))
    (message,), receipt = follow(client, client.post("/rewards/confirm", data=confirm))
    assert "30,000 积分" in chinese(message) and "¥300.00" in message and "元" not in message
    assert "<dd>1,238</dd>" in receipt  # the points left on the card


def test_applying_a_template_says_how_many_cards_in_chinese(client, session, clock, world):
    from portal.cards import services as cards_services
    from portal.cards.controls import Controls

    template = cards_services.save_template(session, world.a, "夜班", Controls(per_purchase_limit_fen=50_000),
                                            actor_id=world.admin_a, now=clock.now())  # fmt: skip
    session.commit()
    signed_in(client, "admin_a")
    url = f"/cards/templates/{template.id}/apply"
    data = {"csrf_token": csrf_token(client, url), "card_ids": [world.a1, world.a2]}
    (message,) = flashes(client, client.post(url, data=data))
    assert chinese(message) == "模板已应用到 2 张卡（2 张有变化）。"


@pytest.mark.parametrize(
    ("contact", "shown", "hidden"),
    [({"email": "zhang.san@example.cn"}, "z***@example.cn", "zhang.san"), ({"phone": "13812341234"}, "138****1234", "13812341234")],
)  # fmt: skip
def test_the_reset_link_flash_masks_where_it_went(app, client, clock, contact, shown, hidden):
    from tests.builders import auth_customers
    from tests.builders import create_user as add_user
    from tests.web.conftest import Db

    def build(s):
        people = auth_customers(s, clock.now())
        add_user(s, "bj_support", "staff", clock.now(), region_id=people.region_a)
        return add_user(s, "fleet_a", "admin", clock.now(), customer_id=people.customer_a, **contact).id

    user_id = Db(app)(build)
    signed_in(client, "bj_support")
    url = f"/support/users/{user_id}/send-reset-link"
    (message,) = flashes(client, client.post(url, data={"csrf_token": csrf_token(client, "/support/users")}))
    assert shown in chinese(message) and hidden not in message


@pytest.mark.parametrize(
    ("url", "said", "parameter"),
    [
        ("/statistics/transactions?group=bogus", "统计维度", "group"),
        ("/statistics/transactions?page=abc", "查询条件", "page"),
        ("/queries/purchases?type=bogus", "类型", "type"),
        ("/queries/purchases?tab=bogus", "显示", "tab"),
        ("/queries/purchases?station=NOPE999", "加油站", "station"),
        ("/queries/purchases?product=X99", "油品", "product"),
        ("/queries/purchases?card=" + "1" * 40, "卡号", "card"),
        ("/queries/purchases?preset=custom&start=2026-13-01&end=2026-03-01", "开始日期", "start"),
        ("/queries/balances?colour=red", "查询条件", "colour"),
        ("/queries/statements?colour=red", "查询条件", "colour"),
    ],
)
def test_query_errors_name_the_field_never_the_parameter(client, world, url, said, parameter):
    signed_in(client, "admin_a")
    response = client.get(url)
    assert response.status_code == 400
    text = visible_text(response.get_data(as_text=True)).partition("\0")[0]
    assert said in text
    assert parameter not in text, text
    assert not offending_words(visible_text(response.get_data(as_text=True)), DATA)


def test_alert_texts_group_their_figures_and_an_unknown_kind_reads_as_words(app):
    from portal.alerts.messages import alert_explanation, alert_title

    with app.test_request_context("/"):
        overfill = alert_explanation("tank_overfill", {"litres_ml": 1_234_500, "tank_ml": 600_000, "plate": "京A12345"})
        travel = alert_explanation("impossible_travel", {"km": 1_234, "from_station": "甲站", "to_station": "乙站",
                                                         "minutes": 1_500, "max_kmh": 160})  # fmt: skip
        fills = alert_explanation("too_many_fills", {"count": 1_200, "day": "2026-03-01", "normal": 2, "threshold": 5})
        unknown_title, unknown_why = alert_title("fuel_theft_v2"), alert_explanation("fuel_theft_v2", {"x": 1})
    assert overfill == "京A12345 加油 1,234.50 升，但油箱容量只有 600.00 升。"
    assert "1,234 公里" in travel and "1,500 分钟" in travel
    assert "加油 1,200 次" in fills
    assert unknown_title == "异常加油"
    assert "fuel_theft_v2" not in unknown_why and not offending_words(unknown_why, set())


def test_the_figure_check_sees_cells_with_more_attributes():
    """The redeem page's points cell carries a test id: an ungrouped figure there is still caught."""
    assert UNGROUPED_FIGURE.findall('<td class="num" data-testid="points-3">30238</td>') == ["30238"]
    assert UNGROUPED_FIGURE.findall('<span class="tile-figure big" id="t">-12345 </span>') == ["-12345"]
    assert not UNGROUPED_FIGURE.findall('<td class="num" data-testid="points-3">30,238</td>')
