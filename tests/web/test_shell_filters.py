"""Template helpers: money, points, localtime, card_number; and the access helpers views use."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import render_template_string
from werkzeug.exceptions import Forbidden, NotFound

from portal.web.filters import card_number


def render(app, source: str, lang: str | None = None, **context) -> str:
    headers = {"Cookie": f"lang={lang}"} if lang else {}
    with app.test_request_context("/", headers=headers):
        return render_template_string(source, **context)


def test_money_formats_fen_in_both_languages(app):
    from portal.money import format_fen

    assert render(app, "{{ 123456|money }}") == format_fen(123456, "zh_CN")
    assert render(app, "{{ 123456|money }}", lang="en") == format_fen(123456, "en")
    assert "1,234.56" in render(app, "{{ 123456|money }}")
    assert render(app, "{{ none|money }}") == ""


@pytest.mark.parametrize("value", [12.5, True, "100"])
def test_money_refuses_anything_but_integer_fen(app, value):
    with pytest.raises(TypeError):
        render(app, "{{ value|money }}", value=value)


def test_points_are_grouped_in_both_languages(app):
    assert render(app, "{{ 1234567|points }}") == "1,234,567"
    assert render(app, "{{ 1234567|points }}", lang="en") == "1,234,567"
    assert render(app, "{{ 0|points }}") == "0"
    assert render(app, "{{ none|points }}") == ""


@pytest.mark.parametrize("value", [1.5, True, "100"])
def test_points_refuse_anything_but_integers(app, value):
    with pytest.raises(TypeError):
        render(app, "{{ value|points }}", value=value)


def test_localtime_shows_shanghai_time_in_one_format_per_language(app):
    at = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)  # 02:30 on 2 March in Shanghai
    assert render(app, "{{ at|localtime }}", at=at) == "2026-03-02 02:30"
    assert render(app, "{{ at|localtime }}", lang="en", at=at) == "2026-03-02 02:30"
    # One format everywhere: a pattern an older template passes, and the queries' `minute`, agree.
    assert render(app, "{{ at|localtime('MM-dd HH:mm') }}", at=at) == "2026-03-02 02:30"
    assert render(app, "{{ at|minute }}", at=at) == "2026-03-02 02:30"
    assert render(app, "{{ none|localtime }}") == ""


def test_dates_have_one_format(app):
    assert render(app, "{{ day|date }}", day=date(2029, 12, 31)) == "2029-12-31"
    assert render(app, "{{ day|date }}", lang="en", day=date(2029, 12, 31)) == "2029-12-31"
    assert render(app, "{{ none|date }}") == ""


def test_counts_and_point_changes_are_grouped(app):
    assert render(app, "{{ 12345|count }}") == "12,345"
    assert render(app, "{{ n|count }}", n=Decimal(12345)) == "12,345"
    assert render(app, "{{ 12345|points_signed }}") == "+12,345"
    assert render(app, "{{ -1234|points_signed }}") == "-1,234"
    with pytest.raises(TypeError):
        render(app, "{{ n|count }}", n=Decimal("1.5"))


def test_a_card_state_has_one_label_everywhere(app):
    assert render(app, "{{ 'lost'|card_status }}") == "已挂失"
    assert render(app, "{{ 'lost'|card_status }}", lang="en") == "Reported lost"
    with app.test_request_context():
        from portal.cards.messages import CARD_STATUSES
        from portal.queries import labels

        assert CARD_STATUSES is labels.CARD_STATUSES


def test_chip_controls_read_as_words(app):
    page = render(
        app,
        '{% with c = controls|as_controls %}{% include "cards/_controls_summary.html" %}{% endwith %}',
        controls={"daily_amount_limit_fen": 80000, "daily_count_limit": 1200, "unknown_field": 1},
    )
    assert "日限额" in page and "¥800.00" in page and "1,200" in page
    assert "daily_amount_limit_fen" not in page and "unknown_field" not in page


def test_localtime_refuses_naive_datetimes(app):
    with pytest.raises(ValueError):
        render(app, "{{ at|localtime }}", at=datetime(2026, 3, 1, 18, 30))


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("9030000100000001", "9030 0001 0000 0001"),
        ("9030 0001 0000 0001", "9030 0001 0000 0001"),
        ("12345", "1234 5"),
        ("", ""),
        (None, ""),
    ],
)
def test_card_number_groups_in_fours(raw, shown):
    assert card_number(raw) == shown


# ---- access helpers -------------------------------------------------------------------------------


@pytest.fixture
def world(app):
    from portal.extensions import clock, db
    from tests.builders import showcase

    with app.app_context():
        world = showcase(db.session, now=clock().now())
        db.session.commit()
    return world


def as_user(app, world, who):
    """A request context signed in as `who` (through the real session machinery)."""
    from flask_login import login_user

    from portal.auth import services
    from portal.auth.web import SignedIn
    from portal.extensions import db

    ctx = app.test_request_context("/")
    ctx.push()
    user = services.find_user(db.session, getattr(world, who))
    login_user(SignedIn(user, None, "token"))
    return ctx


def _guarded_blueprint(app, name: str, permission: str):
    from flask import Blueprint

    from portal.web.access import guard, requires

    bp = guard(Blueprint(name, __name__, url_prefix=f"/{name}"))
    bp.add_url_rule("/", "index", requires(permission)(lambda: "inside"))
    bp.add_url_rule("/undeclared", "undeclared", lambda: "inside")
    app.register_blueprint(bp)


def test_guard_allows_roles_holding_the_permission_and_refuses_others(app, world):
    from tests.web.conftest import login

    _guarded_blueprint(app, "_drivers_area", "cards.report_loss")
    for who, allowed in (("admin", True), ("driver", True), ("staff", False), ("sysadmin", False)):
        client = app.test_client()
        login(client, getattr(world, who), world.password)
        response = client.get("/_drivers_area/")
        assert (response.status_code, response.get_data(as_text=True) if allowed else "") == (
            (200, "inside") if allowed else (403, "")
        ), who


def test_guard_sends_anonymous_users_to_sign_in_and_refuses_undeclared_views(app, world, client):
    from tests.web.conftest import login

    _guarded_blueprint(app, "_guarded", "support.users")
    response = client.get("/_guarded/")
    assert response.status_code == 302 and "/auth/sign-in?next=" in response.headers["Location"]
    login(client, world.admin, world.password)
    assert client.get("/_guarded/").status_code == 403
    other = app.test_client()
    login(other, world.staff, world.password)
    assert other.get("/_guarded/").get_data(as_text=True) == "inside"
    assert other.get("/_guarded/undeclared").status_code == 403  # nothing declared: refused


def test_requires_refuses_an_unknown_permission():
    from portal.web.access import requires

    with pytest.raises(KeyError):
        requires("cards.mange")


def test_owned_or_404_hides_other_customers_objects(app, world):
    from sqlalchemy import select

    from portal.cards.models import Card
    from portal.extensions import db
    from portal.web.access import customer_scope, owned_or_404

    ctx = as_user(app, world, "admin")
    try:
        assert customer_scope() == world.customer_id
        mine = db.session.scalar(select(Card).where(Card.customer_id == world.customer_id))
        theirs = db.session.scalar(select(Card).where(Card.customer_id == world.other_customer_id))
        assert owned_or_404(Card, mine.id) is mine
        with pytest.raises(NotFound):
            owned_or_404(Card, theirs.id)
        with pytest.raises(NotFound):
            owned_or_404(Card, 10**9)
    finally:
        ctx.pop()
    ctx = as_user(app, world, "staff")
    try:
        with pytest.raises(Forbidden):
            customer_scope()
    finally:
        ctx.pop()
