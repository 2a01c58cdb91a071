"""Error pages: friendly and translated, JSON for API clients, never a stack trace; 500 rolls back."""

from __future__ import annotations

import pytest
from flask import abort
from sqlalchemy import func, select

from portal.reference.models import Region
from tests.web.conftest import csrf_token


@pytest.fixture
def app(app):
    """The app with a few routes that fail on purpose (added before the first request)."""
    from portal.extensions import db

    def write_then_raise():
        db.session.add(Region(code="99", name_zh="测试", name_en="Test"))
        db.session.flush()
        raise RuntimeError("secret internal detail")

    def duplicate_then_render():
        db.session.add_all([Region(code="98", name_zh="甲", name_en="A"), Region(code="98", name_zh="乙", name_en="B")])
        db.session.flush()  # IntegrityError: the session is now unusable until rolled back

    def conflict():
        abort(409, "这张卡已经挂失。")

    def status(code):
        abort(code)

    app.add_url_rule("/_test/write-then-raise", view_func=write_then_raise)
    app.add_url_rule("/_test/duplicate", view_func=duplicate_then_render)
    app.add_url_rule("/_test/conflict", view_func=conflict)
    app.add_url_rule("/_test/status/<int:code>", view_func=status)
    app.add_url_rule("/api/_test/status/<int:code>", "api_status", view_func=status)
    return app


def regions(app) -> int:
    from portal.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Region))


CHINESE = {
    400: "无法处理该请求",
    403: "您无权访问此页面。",
    404: "您访问的页面不存在。",
    405: "此处不支持该操作。",
    409: "数据已被其他操作修改",
    413: "提交的内容过大：最多 2 MB。",  # MAX_CONTENT_LENGTH
    422: "部分输入内容无效。",
    429: "请求过于频繁，请稍后再试。",
    500: "系统出现问题，请稍后再试。",
}
ENGLISH = {
    400: "The request could not be understood.",
    403: "You do not have access to this page.",
    404: "The page you asked for does not exist.",
    405: "This action is not available here.",
    409: "This conflicts with a change made in the meantime.",
    413: "What you sent is too large: at most 2 MB.",
    422: "Some of what you entered is not valid.",
    429: "Too many requests.",
    500: "Something went wrong on our side.",
}


@pytest.mark.parametrize("code", sorted(CHINESE))
def test_error_pages_are_friendly_in_both_languages(client, code):
    page = client.get(f"/_test/status/{code}")
    assert page.status_code == code
    assert page.mimetype == "text/html"
    body = page.get_data(as_text=True)
    assert CHINESE[code] in body and f'data-status="{code}"' in body
    client.set_cookie("lang", "en")
    body = client.get(f"/_test/status/{code}").get_data(as_text=True)
    assert ENGLISH[code] in body and 'lang="en"' in body


@pytest.mark.parametrize("code", sorted(CHINESE))
def test_api_paths_get_json_errors(client, code):
    response = client.get(f"/api/_test/status/{code}")
    assert response.status_code == code
    assert response.is_json
    error = response.get_json()["error"]
    assert error["code"] == code and CHINESE[code] in error["message"]


def test_clients_preferring_json_get_json(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": 404, "message": "您访问的页面不存在。"}}
    browser = client.get("/no-such-page", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.mimetype == "text/html"


def test_405_keeps_the_allow_header(client):
    response = client.post("/", data={})
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_a_view_can_say_what_conflicted(client):
    response = client.get("/_test/conflict")
    assert response.status_code == 409
    assert "这张卡已经挂失。" in response.get_data(as_text=True)


def test_500_shows_no_details_and_persists_nothing(app, client):
    response = client.get("/_test/write-then-raise")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "系统出现问题" in body
    assert "secret internal detail" not in body and "Traceback" not in body and "RuntimeError" not in body
    assert regions(app) == 0


def test_500_after_a_failed_flush_still_renders_the_full_page(app, client, make_user):
    make_user("alice", "Correct-Horse-9")
    client.post(
        "/auth/sign-in", data={"username": "alice", "password": "Correct-Horse-9", "csrf_token": csrf_token(client)}
    )
    response = client.get("/_test/duplicate")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "data-menu" in body and "返回首页" in body  # the shell rendered: the session was usable again
    assert "IntegrityError" not in body and "UNIQUE" not in body
    assert regions(app) == 0


def test_expired_form_gets_a_clear_400(client):
    response = client.post("/auth/sign-in", data={"username": "a", "password": "b", "csrf_token": "forged"})
    assert response.status_code == 400
    assert "表单已过期或已提交。请刷新页面后重试。" in response.get_data(as_text=True)
    missing = client.post("/language", data={"lang": "en"}, headers={"Accept": "application/json"})
    assert missing.get_json()["error"]["code"] == 400


def test_413_for_a_too_large_body(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/auth/sign-in", data={"username": "x" * 5000})
    assert response.status_code == 413
    assert "提交的内容过大：最多 1000 B。" in response.get_data(as_text=True)
