"""Mail and SMS through the pages: every path that sends a code or link queues the SMS template and
its parameters and the code's own expiry, and an SMS really reaches the (local) Tencent gateway; the
system admin sees undelivered messages on the jobs page, masked, paged, never with their bodies."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.notify import services as outbox
from tests.builders import PASSWORD, auth_customers
from tests.builders import create_user as add_user
from tests.notify_servers import TencentGateway
from tests.web.conftest import csrf_token, login


class Broken:
    def send(self, message):
        raise OSError("gateway down: 530 refused")


def messages(db):
    from portal.notify.models import OutboxMessage

    def read(s):
        rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [(m.recipient, m.template, json.loads(m.params or "{}"), m.expires_at, m.body) for m in rows]

    return db(read)


@pytest.fixture
def world(db, clock):
    def build(s):
        world = auth_customers(s, clock.now())
        user = add_user(s, "fleet_a", "admin", clock.now(), customer_id=world.customer_a, phone=world.phone_a)
        add_user(s, "bj_support", "staff", clock.now(), region_id=world.region_a)
        return world, user.id

    return db(build)


def register(client, world):
    return client.post(
        "/auth/register",
        data={"card_number": world.main_card_a, "credit_code": world.credit_code_a, "contact": world.phone_a,
              "csrf_token": csrf_token(client, "/auth/register")},
    )  # fmt: skip


def test_a_registration_code_goes_to_the_sms_gateway_as_its_template(app, client, db, clock, world):
    world, _user_id = world
    with TencentGateway() as gateway:
        app.config.update(gateway.settings())
        assert register(client, world).status_code == 302
    [(recipient, template, params, expires_at, body)] = messages(db)
    assert (recipient, template, expires_at) == (
        world.phone_a,
        "registration_code",
        clock.now() + timedelta(minutes=10),
    )
    assert (params, body) == ({}, "")  # delivered: the code is no longer in the database
    [sms] = gateway.sent
    assert gateway.rejected == [] and sms.template_id == "1000001"
    assert re.fullmatch(r"\d{6}", sms.params[0]) and sms.params[1] == "10"
    assert sms.phone == "+86" + re.sub(r"\D", "", world.phone_a)[-11:]


def test_recovery_and_staff_reset_links_carry_the_link_template_and_expire_with_the_link(app, client, db, clock, world):
    from portal.notify.web import console_messages

    world, user_id = world
    client.post(
        "/auth/recover",
        data={"username": "fleet_a", "contact": world.phone_a, "csrf_token": csrf_token(client, "/auth/recover")},
    )
    login(client, "bj_support", PASSWORD)
    client.post(f"/support/users/{user_id}/send-reset-link", data={"csrf_token": csrf_token(client, "/support/users")})
    stored = messages(db)
    assert len(stored) == 2
    for recipient, template, params, expires_at, body in stored:
        assert (recipient, template, params, body) == (world.phone_a, "recovery_link", {}, "")  # delivered: blanked
        assert expires_at == clock.now() + timedelta(minutes=30)
    sent = console_messages(app, world.phone_a)
    assert len(sent) == 2
    for message in sent:
        params = dict(message.params)
        assert (message.template, list(params)) == ("recovery_link", ["link", "minutes"])
        assert params["link"].startswith("http://localhost/auth/reset/") and params["link"] in message.body
        assert params["minutes"] == "30"


def test_the_sysadmin_sees_undelivered_messages_masked_and_paged_without_bodies(app, client, clock, make_user):
    from portal.extensions import db

    make_user("root", role="sysadmin")
    with app.app_context():
        ids = [
            outbox.queue(db.session, "sms", f"1380013{n:04d}", "", f"验证码 99887{n}", now=clock.now()).id
            for n in range(3)
        ]
        mail = outbox.queue(db.session, "email", "alice@example.com", "重置密码", "secret-link-body", now=clock.now())
        db.session.commit()
        outbox.deliver(db.session, ids + [mail.id], {"sms": Broken(), "email": Broken()}, now=clock.now())
        db.session.commit()
    app.config["PAGE_SIZE"] = 2
    login(client, "root", "Correct-Horse-9")
    page = client.get("/admin/jobs").get_data(as_text=True)
    block = page.split('data-testid="outbox-failures"')[1]
    assert "未送达的邮件和短信" in block and "a***@example.com" in block and "138****0002" in block
    assert block.count("data-message=") == 2 and "OSError: gateway down: 530 refused" in block and "重试" in block
    assert "alice@example.com" not in page and "secret-link-body" not in page and "998870" not in page
    next_link = block.split('data-testid="outbox-next-page"')[0].rsplit('href="', 1)[1].split('"')[0]
    older = client.get(next_link.replace("&amp;", "&")).get_data(as_text=True).split('data-testid="outbox-failures"')[1]
    assert older.count("data-message=") == 2 and "138****0001" in older and "138****0000" in older
    assert 'data-testid="outbox-next-page"' not in older
    assert client.get("/admin/jobs?outbox_before=nonsense").status_code == 200


def test_with_nothing_undelivered_the_block_says_so(app, client, make_user):
    make_user("root", role="sysadmin")
    login(client, "root", "Correct-Horse-9")
    assert 'data-testid="no-outbox-failures"' in client.get("/admin/jobs").get_data(as_text=True)


@pytest.mark.parametrize("role", ["admin", "staff"])
def test_only_the_system_admin_sees_the_jobs_page(app, client, make_user, role, world):
    make_user(
        "someone",
        role=role,
        **({"region_id": world[0].region_a} if role == "staff" else {"customer_id": world[0].customer_a}),
    )
    login(client, "someone", "Correct-Horse-9")
    assert client.get("/admin/jobs").status_code in (403, 404)


def test_the_operator_can_try_both_channels_from_the_cli(app, runner):
    from tests.notify_servers import MailServer

    with MailServer("plain") as mail, TencentGateway() as gateway:
        app.config.update(mail.settings() | gateway.settings())
        assert runner.invoke(args=["notify", "test-mail", "ops@example.cn"]).output == "sent to ops@example.cn\n"
        assert runner.invoke(args=["notify", "test-sms", "13800138000"]).exit_code == 0
        app.config["SMS_SECRET_KEY"] = "wrong"
        refused = runner.invoke(args=["notify", "test-sms", "13800138000"])
    assert mail.received[0].recipients == ["ops@example.cn"]
    assert [(s.phone, s.params) for s in gateway.sent] == [("+8613800138000", ["000000", "10"])]
    assert refused.exit_code == 1 and "AuthFailure.SignatureFailure" in refused.output and "wrong" not in refused.output
