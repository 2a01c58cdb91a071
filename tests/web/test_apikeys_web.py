"""The API key pages (fleet admins): list, create with the key shown once, revoke after a
confirmation; every change audited; keys work on the API at once and stop at once."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from tests.web.api_support import bearer
from tests.web.chinese_text import offending_words, visible_text
from tests.web.conftest import csrf_token, signed_in

URL = "/api-keys/"
TOKEN = re.compile(r"fcp_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def admin(client, showcase_world):
    return signed_in(client, showcase_world.admin)


def create(client, **fields):
    data = {"name": "ERP", "scopes": ["read", "funds"], "expires_on": "", "networks": "", **fields}
    return client.post(URL, data={**data, "csrf_token": csrf_token(client, URL)})


def keys(app, customer_id=None):
    from portal.apikeys.models import ApiKey
    from portal.extensions import db

    with app.app_context():
        stmt = select(ApiKey).order_by(ApiKey.id)
        if customer_id is not None:
            stmt = stmt.where(ApiKey.customer_id == customer_id)
        return [(k.id, k.name, k.scopes, k.secret_hash, k.revoked_at, k.expires_at, k.allowed_networks)
                for k in db.session.scalars(stmt)]  # fmt: skip


def test_a_key_is_shown_once_stored_hashed_and_works(app, admin, showcase_world, caplog):
    caplog.set_level(logging.DEBUG)
    response = create(admin, name="ERP 对接", scopes=["read", "funds"], networks="127.0.0.1\n10.0.0.0/8")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    token = TOKEN.search(page).group(0)
    [(_id, name, scopes, secret_hash, revoked, expires, networks)] = keys(app)
    assert (name, scopes, networks, revoked, expires) == ("ERP 对接", ["funds", "read"], ["10.0.0.0/8", "127.0.0.1/32"],
                                                         None, None)  # fmt: skip
    assert token[17:] not in secret_hash and len(secret_hash) == 64
    assert token not in caplog.text  # never logged
    listing = admin.get(URL).get_data(as_text=True)
    assert token not in listing and token.split("_")[1] in listing  # the prefix only, from now on
    assert "ERP 对接" in listing
    assert admin.get("/api/v1/cards", headers=bearer(token)).status_code == 200


def test_the_list_shows_last_use_and_state(app, admin):
    token = TOKEN.search(create(admin).get_data(as_text=True)).group(0)
    admin.get("/api/v1/cards", headers=bearer(token))
    row = re.search(
        r'<tr data-key-prefix="[0-9a-f]+" data-state="active">.*?</tr>', admin.get(URL).get_data(as_text=True), re.S
    )
    assert row and "127.0.0.1" in row.group(0) and "查询" in row.group(0) and "资金" in row.group(0)


def test_an_expiry_date_ends_the_key_after_that_day(app, admin, clock):
    from datetime import timedelta

    tomorrow = (clock.now() + timedelta(days=1)).astimezone().date()
    assert create(admin, expires_on=tomorrow.isoformat()).status_code == 200
    [(*_, expires, _networks)] = keys(app)
    assert expires > clock.now() + timedelta(days=1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scopes": []}, "请至少勾选一项权限"),
        ({"scopes": ["root"]}, "请只勾选列出的权限"),
        ({"name": ""}, ""),
        ({"name": "x" * 65}, ""),
        ({"networks": "not-a-network"}, "每行须为一个地址或网段"),
        ({"networks": "\n".join(f"10.0.{n}.0/24" for n in range(21))}, "最多 20 个地址或网段"),
        ({"expires_on": "2020-01-01"}, "有效期须在今天到三年之内"),
        ({"expires_on": "9999-12-31"}, "有效期须在今天到三年之内"),
        ({"expires_on": "yesterday"}, ""),
    ],
)
def test_bad_input_is_refused_and_nothing_is_created(app, admin, fields, message):
    response = create(admin, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert keys(app) == []


def test_revoke_asks_first_then_the_key_stops_at_once(app, admin):
    token = TOKEN.search(create(admin).get_data(as_text=True)).group(0)
    [(key_id, *_)] = keys(app)
    page = admin.get(f"/api-keys/{key_id}/revoke")
    assert page.status_code == 200 and "吊销 ERP" in page.get_data(as_text=True)
    unconfirmed = admin.post(f"/api-keys/{key_id}/revoke", data={"csrf_token": csrf_token(admin, URL)})
    assert unconfirmed.status_code == 200 and keys(app)[0][4] is None  # asked again, nothing done
    done = admin.post(f"/api-keys/{key_id}/revoke", data={"csrf_token": csrf_token(admin, URL), "confirmed": "yes"})
    assert done.status_code == 200 and keys(app)[0][4] is not None
    assert admin.get("/api/v1/cards", headers=bearer(token)).status_code == 401


def test_a_revoke_without_csrf_is_refused(app, admin):
    create(admin)
    [(key_id, *_)] = keys(app)
    assert admin.post(f"/api-keys/{key_id}/revoke", data={"confirmed": "yes"}).status_code == 400
    assert keys(app)[0][4] is None


def test_another_customers_key_is_404(app, client, showcase_world):
    from tests.web.api_support import make_key

    make_key(app, showcase_world.other_customer_id, name="Theirs")
    [(key_id, *_)] = keys(app)
    signed_in(client, showcase_world.admin)
    assert client.get(f"/api-keys/{key_id}/revoke").status_code == 404
    token = csrf_token(client, URL)
    assert client.post(f"/api-keys/{key_id}/revoke", data={"csrf_token": token, "confirmed": "yes"}).status_code == 404
    assert keys(app)[0][4] is None
    assert "Theirs" not in client.get(URL).get_data(as_text=True)


def test_changes_and_api_actions_show_in_the_activity_log(app, probe_app, admin):
    token = TOKEN.search(create(admin, name="车载系统").get_data(as_text=True)).group(0)
    moved = admin.post("/api/v1/probe/moves", json={"amount_fen": 5}, headers={**bearer(token), "Idempotency-Key": "a"})
    assert moved.status_code == 201
    [(key_id, *_)] = keys(app)
    admin.post(f"/api-keys/{key_id}/revoke", data={"csrf_token": csrf_token(admin, URL), "confirmed": "yes"})
    log = admin.get("/profile/activity").get_data(as_text=True)
    assert "API 密钥已创建" in log and "API 密钥已吊销" in log
    assert "通过 API 密钥 车载系统" in log


def test_the_page_is_chinese_with_a_key_in_it(app, admin):
    page = create(admin).get_data(as_text=True)
    prefix = TOKEN.search(page).group(0)[:16]  # fcp_ and the public part
    words = offending_words(visible_text(page), {"ERP", prefix})
    assert not words, words


def test_the_page_in_english(app, admin):
    admin.post("/language", data={"lang": "en", "csrf_token": csrf_token(admin, URL)})
    page = admin.get(URL).get_data(as_text=True)
    assert "API keys" in page and "Create key" in page
