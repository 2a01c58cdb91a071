"""No English and no internal keys on a Chinese page.

Every GET page is rendered in zh_CN as each role over a demo world whose books hold every kind of
journal row (deposit, allocation, collection, a load waiting / written / cancelled / expired, online
and offline purchase, refund, points earned / taken back / redeemed / expired, card replacement), plus
rows written before memos were structured (English sentences). The visible text (tags, scripts and
styles stripped; titles and placeholders kept) may hold no English word and no snake_case key; codes
and brands are allowed (IC, API, CSV, XLSX, Excel, ...), as are tokens with a digit (card numbers,
plates, station codes, bank references) and the world's own Latin data (user names, e-mail).
Figures in tables and tiles of four digits or more must carry thousands separators.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.web.chinese_text import NOT_PAGES, UNGROUPED_FIGURE, offending_words, visible_text
from tests.web.conftest import login
from tests.web.conftest import routes as _routes


def test_the_detector_finds_english_and_keys_and_lets_codes_through():
    text = visible_text(
        '<p title="main card">卡号 9030 0001 0000 0110 京A12345 92# ¥8.00 IC 卡 CSV</p>'
        "<script>var english = 'ignored';</script><td>daily_amount_limit_fen: 80000</td>"
        "<td>银行转账 TEST-DEP-001</td><td>load to chip</td><code>flask run</code><code>card_lost</code>"
    )
    assert offending_words(text, set()) == {"main", "card", "daily_amount_limit_fen", "load", "to", "chip", "card_lost"}


def _every_memo_kind(app, clock):
    """A demo customer's months of activity, then one of every other money operation, then rows
    with the English memos older code wrote."""
    from portal import ledger
    from portal.auth.models import User
    from portal.cards import loss
    from portal.cards import services as cards_services
    from portal.cards.controls import Controls
    from portal.cards.models import Card
    from portal.chips import loads
    from portal.demo import DemoOptions, build_demo
    from portal.extensions import db
    from portal.funds import services as funds
    from portal.funds.plan import RawLine
    from portal.points import services as points
    from portal.purchases.models import Purchase
    from portal.purchases.offline import record_offline_purchase
    from portal.purchases.refunds import refund
    from portal.reference.models import Station
    from portal.rewards import services as rewards
    from portal.stations.models import Terminal

    with app.app_context():
        s = db.session
        result = build_demo(s, DemoOptions(customers=1, cards=3, months=2, seed=7), now=clock.now(), rounds=4)
        customer = result.world.customers[0].customer
        admin = s.scalar(select(User).where(User.username == "fleet1_admin"))
        cards = s.scalars(
            select(Card).where(Card.customer_id == customer.id, Card.role == "sub").order_by(Card.id)
        ).all()
        now = clock.now() - timedelta(hours=30)
        lines = [RawLine(1, cards[0].number, "10")]
        batch = funds.prepare_batch(
            s, customer_id=customer.id, kind="collection", lines=lines, actor_id=admin.id, now=now
        )
        funds.confirm_batch(s, batch, actor_id=admin.id, now=now)
        waiting = loads.request_load(s, load_id="w" * 32, card=cards[0], amount=1_000, actor_id=admin.id, now=now)
        cancelled = loads.request_load(s, load_id="c" * 32, card=cards[0], amount=2_000, actor_id=admin.id, now=now)
        loads.cancel_load(s, cancelled, now=now, actor_id=admin.id)
        loads.request_load(
            s, load_id="e" * 32, card=cards[1], amount=3_000, actor_id=admin.id, now=now - timedelta(days=4)
        )
        loads.expire_loads(s, now=now)
        station = s.scalar(select(Station).order_by(Station.id))
        record_offline_purchase(s, cards[1], chip_counter=900, station_code=station.code, product_code="0",
                                litres_ml=10_000, amount_fen=7_000, at=now, now=now)  # fmt: skip
        sold = s.scalar(
            select(Purchase).where(Purchase.card_id == cards[0].id, Purchase.source == "online",
                                   Purchase.status == "approved", Purchase.points > 0).order_by(Purchase.id.desc())
        )  # fmt: skip
        terminal = s.get(Terminal, sold.terminal_id)
        refund(s, terminal, purchase_id=sold.id, terminal_seq=10**6, now=now)
        rewards.redeem(s, cards[2], rewards.BLOCK_POINTS, key="0a1b2c3d" * 4, actor_id=admin.id, now=now)
        points.expire_points(s, now=now, days=10)
        report = loss.report_loss(s, cards[2], reason="lost", actor_id=admin.id, now=now - timedelta(days=10))
        loss.replace_card(s, report, actor_id=admin.id, now=now, password_confirmed=True, idempotency_key="p" * 32)
        # Limits on a card, and a template applied to a card then changed (its card keeps old values).
        cards_services.set_card_controls(
            s, cards[1], Controls(daily_amount_limit_fen=80_000, daily_count_limit=3, allowed_products=("92", "0")),
            actor_id=admin.id, now=now,
        )  # fmt: skip
        template = cards_services.save_template(s, customer.id, "夜班", Controls(per_purchase_limit_fen=50_000),
                                                actor_id=admin.id, now=now)  # fmt: skip
        cards_services.apply_template(s, template, [cards[0]], actor_id=admin.id, now=now)
        cards_services.save_template(s, customer.id, "夜班", Controls(per_purchase_limit_fen=60_000),
                                     actor_id=admin.id, now=now, template=template)  # fmt: skip
        # Rows older code wrote, with English memos.
        unit = ledger.unit_account(s, customer.id)
        reserve = ledger.card_account(s, cards[1].id, "reserve")
        clearing = ledger.system_account(s, "deposits_clearing")
        for n, (debit, credit, code, memo) in enumerate(
            (
                (clearing, unit, "deposit", "bank TEST-DEP-001"),
                (unit, reserve, "allocation", "allocation 86f6a1b2c3d4"),
                (reserve, unit, "collection", "collection 86f6a1b2c3d5"),
                (clearing, unit, "deposit", "demo"),
            )
        ):
            ledger.transfer(
                s, ledger.TransferRequest(f"legacy-{n}", debit.id, credit.id, 100, code, memo=memo), now=now
            )
        s.commit()
        assert waiting.status == "pending"
        users = {u.role: u.username for u in s.scalars(select(User).order_by(User.id.desc()))}
        terminals = s.scalars(select(Terminal)).all()
        data = (
            {u.username for u in s.scalars(select(User))}
            | {t.name for t in terminals}
            | {t.key_prefix for t in terminals}
        )
        return users, data, [c.id for c in cards], template.id


@pytest.fixture
def memo_world(app, clock):
    clock.set(clock.now() + timedelta(days=20))  # mid-month: "this month" holds a few weeks
    return _every_memo_kind(app, clock)


def _pages(app, card_ids, template_id):
    for endpoint, url, method in _routes(app):
        if method == "GET" and not NOT_PAGES.search(endpoint):
            yield endpoint, url
    for card_id in card_ids:
        for page in ("/chips/read", "/chips/sync", "/chips/load"):
            yield "chips", f"{page}?card={card_id}"
        yield "cards.controls", f"/cards/{card_id}/controls"
    yield "cards.template_edit", f"/cards/templates/{template_id}"
    yield "cards.template_apply", f"/cards/templates/{template_id}/apply"
    for page in ("/queries/account-transactions", "/queries/points", "/queries/statements"):
        yield "queries", f"{page}?preset=last_month"


@pytest.mark.parametrize("role", ["admin", "driver", "staff", "sysadmin"])
def test_no_english_or_internal_keys_on_chinese_pages(app, client, memo_world, role):
    users, data, card_ids, template_id = memo_world
    assert login(client, users[role], "Demo#2026pass").status_code == 302
    problems = {}
    for _endpoint, url in _pages(app, card_ids, template_id):
        response = client.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        page = response.get_data(as_text=True)
        words = offending_words(visible_text(page), data) | set(UNGROUPED_FIGURE.findall(page))
        if words:
            problems[url] = sorted(words)
    assert not problems, "\n".join(f"{url}: {' '.join(words)}" for url, words in problems.items())


def test_the_too_many_requests_page_is_in_chinese(db_engine, database_url, clock):
    """Flask-Limiter describes a 429 by its limit ("5 per 1 minute"): the page says it in words."""
    from portal import create_app

    app = create_app("testing", DATABASE_URL=database_url, RATELIMIT_ENABLED=True, WTF_CSRF_ENABLED=False,
                     RATELIMIT_STORAGE_URI="memory://", AUTH_RATE_LIMITS={"sign_in": "5 per minute"})  # fmt: skip
    app.extensions["portal.clock"] = clock
    try:
        client = app.test_client()
        for _ in range(6):
            response = client.post("/auth/sign-in", data={"username": "nobody", "password": "x"})
        assert response.status_code == 429
        text = visible_text(response.get_data(as_text=True))
    finally:
        app.extensions["portal.db"][0].dispose()
    assert "请求过于频繁" in text
    assert not offending_words(text, set()), text


def test_sync_problems_and_unknown_error_codes_read_as_words(app):
    """A sync problem's code and English detail are for the log; the page says what happened."""
    from portal.chips.views import _sync_problem_text

    with app.test_request_context("/"):
        refused = _sync_problem_text("purchase_refused", "#3: account 12 is frozen")
        unknown = _sync_problem_text("some_new_code", "load 0a1b")
    assert refused == "主机拒绝了芯片计数器为 3 的脱机消费。"
    assert not offending_words(unknown, set()) and unknown
