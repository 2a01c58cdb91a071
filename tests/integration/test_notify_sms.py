"""SMS through Tencent Cloud SMS's API to a local gateway that recomputes each request's TC3 signature
itself and refuses a bad one; success, transient and permanent errors; templates and parameters."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from portal.notify import services
from portal.notify.models import OutboxMessage
from portal.notify.web import backends
from tests.notify_servers import SECRET_KEY, SilentServer, TencentGateway, tc3_signature

PHONE = "13800138000"
BODY = "您的车队卡门户注册验证码为 123456，10 分钟内有效。"
PARAMS = {"code": "123456", "minutes": "10"}


def queue_and_deliver(app, clock, recipient=PHONE, template="registration_code", params=PARAMS) -> OutboxMessage:
    from portal.extensions import db

    with app.app_context():
        message = services.queue(
            db.session, "sms", recipient, "", BODY, now=clock.now(), template=template, params=params,
            expires_at=clock.now() + timedelta(minutes=10),
        )  # fmt: skip
        db.session.commit()
        services.deliver(db.session, [message.id], backends(app), now=clock.now())
        db.session.commit()
        db.session.refresh(message)
        db.session.expunge(message)
        return message


@pytest.fixture
def gateway(app):
    with TencentGateway() as gateway:
        app.config.update(gateway.settings())
        yield gateway


def test_an_sms_reaches_the_gateway_with_a_valid_signature_template_and_parameters(app, clock, gateway):
    message = queue_and_deliver(app, clock)
    assert gateway.rejected == []
    (sms,) = gateway.sent
    assert (sms.phone, sms.template_id, sms.params) == ("+8613800138000", "1000001", ["123456", "10"])
    assert (message.sent_at, message.error, message.attempts) == (clock.now(), "", 1)
    assert message.body == message.params == ""  # delivered: the code is the recipient's alone


def test_a_wrong_secret_is_refused_by_the_gateway_and_retried(app, clock, gateway):
    app.config["SMS_SECRET_KEY"] = "not-the-secret"
    message = queue_and_deliver(app, clock)
    assert gateway.sent == [] and gateway.rejected == ["AuthFailure.SignatureFailure"]
    assert message.error.startswith("RuntimeError: AuthFailure.SignatureFailure") and message.sent_at is None
    assert message.next_attempt_at == clock.now() + timedelta(minutes=1)
    assert "not-the-secret" not in message.error and SECRET_KEY not in message.error


def test_the_gateways_check_is_the_documented_algorithm():
    """Tencent's worked example (signature v3 docs: CVM DescribeInstances, 2019-02-25) gives its signature."""
    headers = {"content-type": "application/json; charset=utf-8", "host": "cvm.tencentcloudapi.com"}
    body = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    signature = tc3_signature(
        "Gu5t9xGARNpq86cd98joQYCN3*******", method="POST", path="/", query="", headers=headers,
        signed_headers=["content-type", "host"], body=body, timestamp=1551113065, service="cvm",
    )  # fmt: skip
    assert signature == "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"


@pytest.mark.parametrize("answer", ["rate_limit", "error_5xx"])
def test_a_transient_error_schedules_a_retry_which_then_succeeds(app, clock, gateway, answer):
    gateway.script.append(answer)
    message = queue_and_deliver(app, clock)
    assert message.sent_at is None and message.next_attempt_at == clock.now() + timedelta(minutes=1)
    assert ("LimitExceeded.PhoneNumberThirtySecondLimit" if answer == "rate_limit" else "ServerNetworkError") in (
        message.error
    )
    clock.advance(timedelta(minutes=1))
    from portal.extensions import db

    with app.app_context():
        due = services.due(db.session, now=clock.now())
        assert due == [message.id]
        assert services.deliver(db.session, due, backends(app), now=clock.now()) == 1
        db.session.commit()
    assert len(gateway.sent) == 1


def test_an_invalid_number_is_given_up_at_once(app, clock, gateway):
    message = queue_and_deliver(app, clock, recipient="12345")
    assert gateway.sent == [] and message.attempts == 1
    assert message.error.startswith("PermanentFailure: InvalidParameterValue.IncorrectPhoneNumber")
    assert (message.next_attempt_at, message.body, message.params) == (None, "", "")  # given up: the code is gone
    from portal.extensions import db

    with app.app_context():
        assert services.given_up(db.session) == 1


def test_a_template_without_an_id_is_given_up_with_a_clear_error(app, clock, gateway):
    app.config["SMS_TEMPLATES"] = "recovery_link=1000002"
    message = queue_and_deliver(app, clock)
    assert gateway.sent == [] and message.next_attempt_at is None
    assert message.error == "PermanentFailure: no SMS template id for 'registration_code' in SMS_TEMPLATES"


def test_a_gateway_that_never_answers_fails_within_sms_timeout(app, clock, gateway):
    with SilentServer() as silent:
        app.config.update(SMS_ENDPOINT=f"http://127.0.0.1:{silent.port}", SMS_TIMEOUT=0.3)
        started = time.monotonic()
        message = queue_and_deliver(app, clock)
        took = time.monotonic() - started
    assert took < 3, took
    assert "ClientNetworkError" in message.error and message.next_attempt_at == clock.now() + timedelta(minutes=1)


def test_the_secret_key_is_in_no_log_line_even_at_debug(app, clock, gateway, caplog):
    caplog.set_level("DEBUG")
    queue_and_deliver(app, clock)
    app.config["SMS_SECRET_KEY"] = "wrong-" + SECRET_KEY
    queue_and_deliver(app, clock)
    assert len(gateway.sent) == 1 and gateway.rejected == ["AuthFailure.SignatureFailure"]
    assert caplog.records and SECRET_KEY not in caplog.text
    assert SECRET_KEY not in repr(backends(app)["sms"].settings)
