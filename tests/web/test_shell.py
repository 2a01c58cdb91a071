"""The page shell: menu per role, header, language switch, home pages."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask_babel import Babel
from flask_babel import lazy_gettext as _l

from portal.web.menu import MENUS, Item, Section, menu_for
from tests.builders import showcase
from tests.web.conftest import csrf_token, login


@pytest.fixture
def world(app):
    from portal.extensions import clock, db

    with app.app_context():
        world = showcase(db.session, now=clock().now())
        db.session.commit()
    return world


def sign_in_as(client, world, who: str):
    response = login(client, getattr(world, who), world.password)
    assert response.status_code == 302, f"{who} could not sign in"


def menu_html(page: str) -> str:
    return page.split('<nav aria-label="')[1].split("</nav>")[0]


TILE = re.compile(r'<span class="tile-figure"[^>]*>(\d+)</span><span class="tile-label">([^<]+)</span>')


def tiles(page: str) -> dict[str, int]:
    """The figures of a home page, by label."""
    return {label: int(figure) for figure, label in TILE.findall(page)}


def endpoints_of(role: str) -> list[str]:
    out = []
    for entry in MENUS[role]:
        out.extend(item.endpoint for item in entry.items) if isinstance(entry, Section) else out.append(entry.endpoint)
    return out


@pytest.mark.parametrize(
    ("who", "role", "expected"),
    [
        (
            "admin",
            "admin",
            [
                "客户首页",
                "查询",
                "账户余额查询",
                "账户交易查询",
                "消费交易查询",
                "积分交易查询",
                "对账单",
                "统计",
                "交易统计",
                "积分交易统计",
                "卡片服务",
                "卡片与限额",
                "卡片挂失",
                "单位账户分配",  # the manual writes 帐户; the portal uses the standard 账户 throughout
                "单位账户汇总",
                "卡内信息查询",
                "同步卡数据",
                "资金圈存",
                "积分兑换",
                "车队司机管理",
                "异常提醒",
                "账户服务",
                "客户资料维护",
                "操作记录",
                "API 密钥",
                "修改密码",
            ],
        ),
        ("driver", "driver", ["首页", "我的卡片", "消费交易查询", "积分交易查询", "积分兑换", "卡片挂失", "修改密码"]),
        ("staff", "staff", ["首页", "用户查询", "充值登记", "操作记录", "修改密码"]),
        ("sysadmin", "sysadmin", ["首页", "地区与加油站", "客服人员", "终端", "定时任务", "修改密码"]),
    ],
)
def test_each_role_sees_the_manuals_menu_in_order(client, world, who, role, expected):
    sign_in_as(client, world, who)
    page = client.get("/").get_data(as_text=True)
    menu = menu_html(page)
    labels = re.findall(r'class="menu-(?:link[^"]*|group-label)"[^>]*>([^<]+)<', menu)
    assert labels == expected
    # Every item is a link exactly when its endpoint is registered: never a link to a 404.
    for endpoint in endpoints_of(role):
        registered = endpoint in client.application.view_functions
        with client.application.test_request_context():
            from flask import url_for

            href = url_for(endpoint) if registered else None
        if registered:
            assert f'href="{href}"' in menu, endpoint
    assert menu.count('aria-disabled="true"') == sum(
        endpoint not in client.application.view_functions for endpoint in endpoints_of(role)
    )


def test_menu_marks_entries_available_exactly_when_their_endpoint_is_registered():
    app = Flask(__name__)
    Babel(app)
    app.add_url_rule("/", "home.index", lambda: "")
    app.add_url_rule("/queries/balances", "queries.balances", lambda: "")
    app.add_url_rule("/cards/<int:id>/loss", "cards.loss", lambda id: "")  # needs an argument: unusable
    with app.test_request_context("/queries/balances"):
        entries = menu_for("admin", app, "queries.balances")
    links = {link.endpoint: link for entry in entries for link in getattr(entry, "links", (entry,))}
    assert links["home.index"].available and links["home.index"].url == "/"
    assert links["queries.balances"].available and links["queries.balances"].current
    assert not links["queries.statements"].available and links["queries.statements"].url == ""
    assert not links["cards.loss"].available
    assert menu_for("nobody", app, None) == []


def test_an_unavailable_entry_renders_greyed_out_and_an_available_one_as_a_link(client, world, monkeypatch):
    monkeypatch.setitem(MENUS, "admin", (Item(_l("Home"), "home.index"), Item(_l("Statements"), "nowhere.statements")))
    sign_in_as(client, world, "admin")
    menu = menu_html(client.get("/").get_data(as_text=True))
    assert '<a class="menu-link is-current" href="/" aria-current="page">首页</a>' in menu
    assert (
        '<span class="menu-link is-disabled" aria-disabled="true" title="即将推出">对账单<small>即将推出</small></span>'
        in menu
    )
    assert "nowhere" not in menu


def test_current_page_is_marked_in_the_menu(client, world):
    sign_in_as(client, world, "driver")
    menu = menu_html(client.get("/").get_data(as_text=True))
    assert 'class="menu-link is-current" href="/" aria-current="page">首页</a>' in menu


def test_header_names_user_customer_region_and_role(client, world):
    sign_in_as(client, world, "admin")
    page = client.get("/").get_data(as_text=True)
    header = page.split('data-testid="identity"')[1].split("</div>")[0]
    assert "王建国" in header and "北京顺达物流有限公司" in header and "北京" in header and "车队管理员" in header


def test_signed_out_pages_have_no_menu_but_a_language_switch(client):
    page = client.get("/auth/sign-in").get_data(as_text=True)
    assert "data-menu" not in page
    assert 'name="lang" value="en"' in page


# ---- language switch ------------------------------------------------------------------------------


def switch_language(client, lang: str, next_url: str = "/", token_from: str = "/auth/sign-in"):
    return client.post("/language", data={"lang": lang, "next": next_url, "csrf_token": csrf_token(client, token_from)})


def test_switching_to_english_sets_the_cookie_and_returns_to_the_page(client, world):
    sign_in_as(client, world, "admin")
    response = switch_language(client, "en", "/?tab=cards", token_from="/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/?tab=cards"
    cookie = client.get_cookie("lang")
    assert cookie.value == "en" and cookie.http_only and cookie.same_site == "Lax"
    page = client.get("/").get_data(as_text=True)
    assert 'lang="en"' in page
    assert "Customer home" in page and "Balance query" in page and "Fleet admin" in page
    assert 'name="lang" value="zh_CN"' in page  # the way back
    back = switch_language(client, "zh_CN", "/", token_from="/")
    assert back.status_code == 302 and client.get_cookie("lang").value == "zh_CN"
    assert "客户首页" in client.get("/").get_data(as_text=True)


def test_an_unknown_language_is_ignored(client):
    response = switch_language(client, "fr")
    assert response.status_code == 302
    assert client.get_cookie("lang") is None
    assert 'lang="zh-CN"' in client.get("/auth/sign-in").get_data(as_text=True)


def test_a_forged_lang_cookie_falls_back_to_chinese(client):
    client.set_cookie("lang", "<script>")
    assert 'lang="zh-CN"' in client.get("/auth/sign-in").get_data(as_text=True)


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "http:/evil", "javascript:alert(1)", ""]
)
def test_language_switch_never_redirects_off_site(client, target):
    response = switch_language(client, "en", target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get_cookie("lang").value == "en"


def test_language_switch_needs_the_csrf_token(client):
    response = client.post("/language", data={"lang": "en", "next": "/"})
    assert response.status_code == 400
    assert client.get_cookie("lang") is None


def test_language_switch_works_signed_out_and_keeps_the_page(client):
    response = switch_language(client, "en", "/auth/sign-in")
    assert response.headers["Location"] == "/auth/sign-in"
    assert 'lang="en"' in client.get("/auth/sign-in").get_data(as_text=True)


# ---- home pages --------------------------------------------------------------------------------------


def test_admin_home_shows_the_customer_cards_fleet_and_contacts(client, world):
    sign_in_as(client, world, "admin")
    page = client.get("/").get_data(as_text=True)
    assert "<h1>北京顺达物流有限公司</h1>" in page
    assert "9030 0001 0000 0001" in page  # main card, grouped
    assert tiles(page) == {"副卡": 7, "正常": 5, "已挂失": 1, "已注销": 1, "司机": 4, "车辆": 3, "积分": 0}
    assert "fleet@shunda-logistics.cn" in page and "010-6521 8890" in page
    assert "上海海运储运有限公司" not in page  # nothing of another customer


def test_driver_home_lists_only_their_open_cards(client, world):
    sign_in_as(client, world, "driver")
    page = client.get("/").get_data(as_text=True)
    # Driver 1 holds sub-cards 1 and 5 (active); card 7 is the closed one and goes to driver 3.
    assert re.findall(r'<span class="card-no">([\d ]+)</span>', page) == ["9030 0001 0000 0110", "9030 0001 0000 0114"]
    assert "京A12345" in page and "1号车" in page


def test_staff_home_counts_their_region(client, world):
    sign_in_as(client, world, "staff")
    page = client.get("/").get_data(as_text=True)
    assert "<h1>北京</h1>" in page
    assert tiles(page) == {"客户": 1, "客户用户": 2, "加油站": 2}


def test_sysadmin_home_counts_the_set_up(client, world):
    sign_in_as(client, world, "sysadmin")
    page = client.get("/").get_data(as_text=True)
    assert tiles(page) == {"地区": 2, "加油站": 3, "客服人员": 1, "客户": 2}


def test_pages_have_no_inline_script_or_style(client, world):
    sign_in_as(client, world, "admin")
    for path in ("/", "/auth/sign-in", "/no-such-page"):
        page = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert "style=" not in page and "<style" not in page, path
        assert not re.search(r"<[^>]+\son[a-z]+=", page), path  # no onclick= etc.
