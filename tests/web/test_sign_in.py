import re

from sqlalchemy import select

from portal.auth.models import LoginSession, User
from tests.web.conftest import csrf_token, login


def test_sign_in_page_renders_in_chinese_by_default(client):
    page = client.get("/auth/sign-in")
    assert page.status_code == 200
    assert 'lang="zh-CN"' in page.get_data(as_text=True)


def test_home_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/auth/sign-in" in response.headers["Location"]


def test_sign_in_and_out_and_old_cookie_is_dead(client, make_user):
    make_user("alice", "Correct-Horse-9")
    response = login(client, "alice", "Correct-Horse-9")
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    cookie = client.get_cookie("portal_session").value
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/")})
    assert client.get("/").status_code == 302
    client.set_cookie("portal_session", cookie)  # replay the pre-sign-out cookie
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_without_saying_why(client, make_user):
    make_user("alice", "Correct-Horse-9")
    wrong = login(client, "alice", "nope").get_data(as_text=True)
    unknown = login(client, "nobody", "nope").get_data(as_text=True)
    assert client.get("/").status_code == 302

    # CSRF tokens are signed with the current second, so they may differ between the two pages.
    def strip(page):
        return re.sub(r'(csrf_token"[^>]*value|csrf-token" content)="[^"]+"', "", page).replace("alice", "nobody")

    assert strip(wrong) == strip(unknown)


def test_post_without_csrf_token_is_refused(client, make_user):
    make_user("alice", "Correct-Horse-9")
    response = client.post("/auth/sign-in", data={"username": "alice", "password": "Correct-Horse-9"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_the_user_name_is_case_insensitive_and_the_session_is_the_one_account(client, make_user, db):
    """Names are unique in any case (uq_users_username_lower), so any case names the one account."""
    make_user("Alice.Wang", "Correct-Horse-9")
    response = login(client, " alice.WANG ", "Correct-Horse-9")
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    sessions = db(
        lambda s: s.execute(
            select(User.username, LoginSession.customer_id).join(User, User.id == LoginSession.user_id)
        ).all()
    )
    assert sessions == [("Alice.Wang", None)]  # a system admin: no customer
