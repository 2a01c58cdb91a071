"""The webhook pages of a fleet admin: register (secret shown once), refuse bad addresses, send a test
event to a real receiver and see it in the log, redeliver, disable / enable, rotate, delete after
confirmation; another customer's endpoint is a 404."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.web.conftest import csrf_token, login
from tests.webhook_receiver import WebhookReceiver

EVENTS = ["purchase.approved", "card.reported_lost"]


@pytest.fixture
def world(showcase_world, client):
    assert login(client, showcase_world.admin, showcase_world.password).status_code == 302
    return showcase_world


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def add(client, url, events=EVENTS, **fields):
    data = {"url": url, "events": events, "description": "ERP", "csrf_token": csrf_token(client, "/webhooks/new")}
    return client.post("/webhooks/new", data={**data, **fields})


def secret_of(page: str) -> str:
    return re.search(r"(whsec_[A-Za-z0-9+/=]+)", page).group(1)


def endpoint_id(db) -> int:
    from portal.webhooks.models import WebhookEndpoint

    return db(lambda s: s.scalar(select(func.max(WebhookEndpoint.id))))


def test_register_shows_the_secret_once_and_stores_it_encrypted(client, world, db, receiver):
    response = add(client, receiver.url)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = secret_of(page)
    from portal.audit.models import AuditEvent
    from portal.webhooks.models import WebhookEndpoint

    row = db(lambda s: s.scalar(select(WebhookEndpoint)))
    assert row.events == "purchase.approved card.reported_lost" and row.enabled and row.customer_id == world.customer_id
    assert secret not in row.secret_encrypted and "whsec_" not in row.secret_encrypted
    detail = db(lambda s: s.scalar(select(AuditEvent.detail).where(AuditEvent.action == "webhooks.create")))
    assert secret not in str(detail) and detail["url"] == receiver.url
    later = client.get(f"/webhooks/{row.id}").get_data(as_text=True)
    assert secret not in later and receiver.url in later
    assert receiver.url in client.get("/webhooks/").get_data(as_text=True)
    activity = client.get("/profile/activity").get_data(as_text=True)
    assert "添加了 Webhook 端点" in activity and receiver.url in activity and secret not in activity


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hooks", "地址必须使用 HTTPS。"),
        ("https://10.0.0.8/hooks", "该地址指向内网"),
        ("https://169.254.169.254/latest/meta-data", "该地址指向内网"),
        ("https://user:pw@example.com/hooks", "地址中不能包含用户名或密码"),
        ("not a url", "请输入完整地址"),
    ],
)
def test_bad_addresses_are_refused_and_nothing_is_saved(client, world, db, url, message):
    from portal.webhooks.models import WebhookEndpoint

    response = add(client, url)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db(lambda s: s.scalar(select(func.count()).select_from(WebhookEndpoint))) == 0


def test_no_event_or_an_unknown_one_is_refused(client, world, db, receiver):
    assert add(client, receiver.url, events=[]).status_code == 422
    assert add(client, receiver.url, events=["purchase.approved", "everything"]).status_code == 422
    page = add(client, receiver.url, events=["unit_balance.below_threshold"]).get_data(as_text=True)
    assert "请填写“单位账户余额低于阈值”的阈值" in page
    assert add(client, receiver.url, events=["unit_balance.below_threshold"], threshold="5,000").status_code == 200


def test_send_a_test_event_then_redeliver_it(client, world, db, receiver):
    receiver.secret = secret_of(add(client, receiver.url).get_data(as_text=True))
    eid = endpoint_id(db)
    token = csrf_token(client, f"/webhooks/{eid}")
    response = client.post(f"/webhooks/{eid}/test", data={"csrf_token": token}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "已送达：端点返回成功。" in page and "测试事件" in page
    assert receiver.wait_for(1) and receiver.arrivals[0].verified
    delivery_id = int(re.search(r'data-delivery-id="(\d+)" data-status="delivered"', page).group(1))
    client.post(f"/webhooks/{eid}/deliveries/{delivery_id}/redeliver", data={"csrf_token": token})
    assert receiver.wait_for(2) and receiver.arrivals[1].verified
    assert receiver.arrivals[0].headers["webhook-id"] == receiver.arrivals[1].headers["webhook-id"]
    assert client.get(f"/webhooks/{eid}").get_data(as_text=True).count('data-status="delivered"') == 2


def test_a_failing_receiver_shows_in_the_log(client, world, db, receiver):
    add(client, receiver.url)
    receiver.replies.append(500)
    eid = endpoint_id(db)
    page = client.post(f"/webhooks/{eid}/test", data={"csrf_token": csrf_token(client, f"/webhooks/{eid}")},
                       follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "尚未送达" in page and 'data-status="pending"' in page and "receiver failed" in page


def test_disable_enable_rotate_and_delete(client, world, db, receiver):
    from portal.webhooks.models import WebhookDelivery, WebhookEndpoint

    first = secret_of(add(client, receiver.url).get_data(as_text=True))
    eid = endpoint_id(db)
    token = csrf_token(client, f"/webhooks/{eid}")
    client.post(f"/webhooks/{eid}/disable", data={"csrf_token": token})
    assert not db(lambda s: s.get(WebhookEndpoint, eid).enabled)
    client.post(f"/webhooks/{eid}/test", data={"csrf_token": token})
    assert db(lambda s: s.scalar(select(func.count()).select_from(WebhookDelivery))) == 0
    client.post(f"/webhooks/{eid}/enable", data={"csrf_token": token})
    assert db(lambda s: s.get(WebhookEndpoint, eid).enabled)
    assert "确定更换签名密钥" in client.get(f"/webhooks/{eid}/rotate-secret").get_data(as_text=True)
    rotated = client.post(f"/webhooks/{eid}/rotate-secret", data={"csrf_token": token, "confirmed": "yes"})
    assert rotated.headers["Cache-Control"] == "no-store" and secret_of(rotated.get_data(as_text=True)) != first
    assert client.post(f"/webhooks/{eid}/delete", data={"csrf_token": token}).status_code == 400  # not confirmed
    response = client.post(f"/webhooks/{eid}/delete", data={"csrf_token": token, "confirmed": "yes"})
    assert response.status_code == 302
    assert db(lambda s: s.get(WebhookEndpoint, eid)) is None


def test_edit_changes_events_and_keeps_the_secret(client, world, db, receiver):
    from portal.webhooks.models import WebhookEndpoint

    add(client, receiver.url)
    eid = endpoint_id(db)
    before = db(lambda s: s.get(WebhookEndpoint, eid).secret_encrypted)
    form = client.get(f"/webhooks/{eid}/edit").get_data(as_text=True)
    checked = set(re.findall(r'<input checked[^>]*value="([a-z_.]+)"', form))
    assert checked == set(EVENTS)
    response = client.post(f"/webhooks/{eid}/edit", data={"url": receiver.url, "events": ["alert.raised"],
                           "description": "告警", "csrf_token": csrf_token(client, f"/webhooks/{eid}/edit")})  # fmt: skip
    assert response.status_code == 302
    row = db(lambda s: s.get(WebhookEndpoint, eid))
    assert row.events == "alert.raised" and row.description == "告警" and row.secret_encrypted == before


def test_another_customers_endpoint_is_not_found(client, world, db, receiver, app):
    add(client, receiver.url)
    eid = endpoint_id(db)
    client.post("/auth/sign-out", data={"csrf_token": csrf_token(client, "/")})
    assert login(client, world.other_admin, world.password).status_code == 302
    token = csrf_token(client, "/")
    assert client.get(f"/webhooks/{eid}").status_code == 404
    assert client.get(f"/webhooks/{eid}/edit").status_code == 404
    for action in ("test", "disable", "delete", "rotate-secret"):
        assert (
            client.post(f"/webhooks/{eid}/{action}", data={"csrf_token": token, "confirmed": "yes"}).status_code == 404
        )
    assert receiver.url not in client.get("/webhooks/").get_data(as_text=True)


def test_the_delivery_log_pages(client, world, db, receiver, clock):
    from portal.webhooks import events
    from portal.webhooks.models import WebhookEndpoint

    add(client, receiver.url)
    eid = endpoint_id(db)

    def many(session):
        endpoint = session.get(WebhookEndpoint, eid)
        for n in range(25):
            events.write_event(session, endpoint.customer_id, "purchase.approved", {"n": n}, [eid], now=clock.now())

    db(many)
    page = client.get(f"/webhooks/{eid}").get_data(as_text=True)
    assert page.count("data-delivery-id=") == 20
    next_url = re.search(r'href="([^"]+)" rel="next"', page).group(1).replace("&amp;", "&")
    assert client.get(next_url).get_data(as_text=True).count("data-delivery-id=") == 5
    assert client.get(f"/webhooks/{eid}?before=abc").status_code == 200


def test_a_test_event_answered_with_a_nul_byte_is_logged_not_a_500(client, world, db, receiver):
    from portal.webhooks.models import WebhookDelivery

    add(client, receiver.url)
    receiver.replies.append((200, b"bad\x00answer"))
    eid = endpoint_id(db)
    response = client.post(f"/webhooks/{eid}/test", data={"csrf_token": csrf_token(client, f"/webhooks/{eid}")},
                           follow_redirects=True)  # fmt: skip
    assert response.status_code == 200 and "已送达" in response.get_data(as_text=True)
    row = db(lambda s: s.scalar(select(WebhookDelivery)))
    assert row.status == "delivered" and row.response_excerpt == "badanswer"


def test_a_waiting_or_cancelled_delivery_cannot_be_redelivered(client, world, db, receiver, clock):
    from datetime import timedelta

    from portal.webhooks import events
    from portal.webhooks.models import WebhookDelivery, WebhookEndpoint

    add(client, receiver.url)
    eid = endpoint_id(db)

    def later(session):
        endpoint = session.get(WebhookEndpoint, eid)
        events.write_event(session, endpoint.customer_id, "card.loss_effective", {"n": 1}, [eid], now=clock.now(),
                           due_at=clock.now() + timedelta(hours=24))  # fmt: skip
        return session.scalar(select(func.max(WebhookDelivery.id)))

    delivery_id = db(later)
    page = client.get(f"/webhooks/{eid}").get_data(as_text=True)
    assert f'/deliveries/{delivery_id}/redeliver"' not in page  # no button on a waiting delivery
    token = csrf_token(client, f"/webhooks/{eid}")
    response = client.post(f"/webhooks/{eid}/deliveries/{delivery_id}/redeliver", data={"csrf_token": token})
    assert response.status_code == 409 and "只有已送达或失败的投递才能重新发送" in response.get_data(as_text=True)

    def cancel(session):
        session.get(WebhookDelivery, delivery_id).status = "cancelled"

    db(cancel)
    response = client.post(f"/webhooks/{eid}/deliveries/{delivery_id}/redeliver", data={"csrf_token": token})
    assert response.status_code == 409
    assert db(lambda s: s.scalar(select(func.count()).select_from(WebhookDelivery))) == 1
    assert receiver.arrivals == []


def test_event_names_are_listed_the_readers_way(client, world, db, receiver):
    add(client, receiver.url, events=["purchase.approved", "purchase.declined", "card.reported_lost"])
    eid = endpoint_id(db)
    assert "消费已批准、消费被拒绝和卡片已挂失" in client.get(f"/webhooks/{eid}").get_data(as_text=True)
    client.set_cookie("lang", "en")
    for path in (f"/webhooks/{eid}", "/webhooks/"):
        page = client.get(path).get_data(as_text=True)
        assert "Purchase approved, Purchase declined, and Card reported lost" in page and "、" not in page
