"""The outbox's rules beside retries: a code or link is never sent after it expires, a permanent
refusal is given up at once, given-up and delivered messages lose their parameters, and the system
admin's list of failures shows masked recipients and never a body."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.notify import services as outbox
from portal.notify.backends import PermanentFailure
from tests.conftest import T0

CODE_LIFETIME = timedelta(minutes=10)


class Broken:
    def send(self, message):
        raise OSError("gateway down")


class Refusing:
    def send(self, message):
        raise PermanentFailure("InvalidParameterValue.IncorrectPhoneNumber: invalid number")


class Kept:
    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)


def code_message(session, recipient="13800001234", at=T0):
    return outbox.queue(
        session, "sms", recipient, "", "注册验证码 123456，10 分钟内有效", now=at,
        template="registration_code", params={"code": "123456", "minutes": "10"}, expires_at=at + CODE_LIFETIME,
    )  # fmt: skip


def test_a_code_is_retried_while_valid_and_never_sent_after_it_expires(session):
    message = code_message(session)
    outbox.deliver(session, [message.id], {"sms": Broken()}, now=T0)  # the web side's try: gateway down
    at = T0
    while message.next_attempt_at is not None and message.next_attempt_at < T0 + CODE_LIFETIME:
        at = message.next_attempt_at
        outbox.deliver(session, outbox.due(session, now=at), {"sms": Broken()}, now=at)
    assert message.attempts == 4 and message.error == "OSError: gateway down"  # at 0, 1, 3 and 7 minutes
    kept = Kept()
    at = message.next_attempt_at  # 15 minutes: the code died at 10
    assert outbox.due(session, now=at) == [message.id]
    assert outbox.deliver(session, [message.id], {"sms": kept}, now=at) == 0
    assert kept.sent == []
    assert (message.error, message.next_attempt_at, message.body, message.params) == ("expired", None, "", "")
    assert message.attempts == 4 and outbox.given_up(session) == 1
    assert outbox.due(session, now=at + timedelta(days=1)) == []


def test_a_code_still_valid_is_sent_with_its_template_and_parameters(session):
    message = code_message(session)
    kept = Kept()
    at = T0 + CODE_LIFETIME - timedelta(seconds=1)
    assert outbox.deliver(session, [message.id], {"sms": kept}, now=at) == 1
    (sent,) = kept.sent
    assert (sent.recipient, sent.template, dict(sent.params)) == (
        "13800001234", "registration_code", {"code": "123456", "minutes": "10"},
    )  # fmt: skip
    assert list(sent.params) == ["code", "minutes"]  # the template's order
    session.expire_all()
    assert (message.body, message.params, message.recipient) == ("", "", "13800001234")  # blanked as it is sent
    assert (message.template, message.sent_at) == ("registration_code", at)


def test_a_permanent_refusal_is_given_up_at_once(session):
    message = code_message(session)
    assert outbox.deliver(session, [message.id], {"sms": Refusing()}, now=T0) == 0
    assert message.attempts == 1 and message.next_attempt_at is None and message.body == message.params == ""
    assert message.error == "PermanentFailure: InvalidParameterValue.IncorrectPhoneNumber: invalid number"
    assert outbox.due(session, now=T0 + timedelta(hours=1)) == [] and outbox.given_up(session) == 1


@pytest.mark.parametrize(
    ("recipient", "shown"),
    [("13812341234", "138****1234"), ("alice@example.com", "a***@example.com"), ("12345", "*****")],
)
def test_recipients_are_masked(recipient, shown):
    assert outbox.masked(recipient) == shown


def test_failures_are_listed_newest_first_in_pages_without_bodies(session):
    retrying = code_message(session, "13800000001")
    outbox.deliver(session, [retrying.id], {"sms": Broken()}, now=T0)
    refused = code_message(session, "13800000002")
    outbox.deliver(session, [refused.id], {"sms": Refusing()}, now=T0)
    sent = code_message(session, "13800000003")
    outbox.deliver(session, [sent.id], {"sms": Kept()}, now=T0)
    code_message(session, "13800000004")  # not tried yet: not a failure
    mail = outbox.queue(session, "email", "alice@example.com", "重置密码", "link", now=T0)
    outbox.deliver(session, [mail.id], {"email": Broken()}, now=T0)

    first = outbox.failures(session, limit=2)
    assert [(f.channel, f.recipient) for f in first.failures] == [("email", "a***@example.com"), ("sms", "138****0002")]
    assert first.failures[1].next_attempt_at is None and first.failures[1].attempts == 1  # given up
    assert first.failures[0].last_attempt_at == T0
    older = outbox.failures(session, before=first.next_before, limit=2)
    assert [f.recipient for f in older.failures] == ["138****0001"] and older.next_before is None
    assert (
        older.failures[0].next_attempt_at == T0 + timedelta(minutes=1)
        and older.failures[0].error == "OSError: gateway down"
    )
    assert not any(hasattr(f, "body") for f in first.failures + older.failures)


def test_a_stored_error_never_holds_the_recipient_or_the_body(session):
    message = outbox.queue(session, "email", "Alice@Example.cn", "Reset", "link https://x/auth/reset/tok", now=T0)

    class Echoing:
        def send(self, sent):
            raise OSError(f"refused {sent.recipient.lower()} for {sent.body}")

    outbox.deliver(session, [message.id], {"email": Echoing()}, now=T0)
    assert message.error == "OSError: refused A***@Example.cn for [message]"
