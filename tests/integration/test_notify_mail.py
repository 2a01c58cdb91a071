"""Mail through Flask-Mailman to a real SMTP server (aiosmtpd) that wants a login: plain on loopback,
STARTTLS and SMTPS with a certificate the client must verify; a wrong password and a server that never
answers are errors the outbox records and retries."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from portal.notify import services
from portal.notify.models import OutboxMessage
from portal.notify.web import backends
from tests.notify_servers import USERNAME, MailServer, SilentServer, TestCA

SUBJECT = "车队卡门户：重置密码"
BODY = "请在 30 分钟内打开此链接设置新密码：https://portal.example.cn/auth/reset/abc\n如非本人操作，请忽略。"


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


def queue_and_deliver(app, clock, recipient="fleet-admin@example.cn") -> OutboxMessage:
    """Queue a mail, deliver it once as the web side does, and return the row as stored."""
    from portal.extensions import db

    with app.app_context():
        message = services.queue(db.session, "email", recipient, SUBJECT, BODY, now=clock.now())
        db.session.commit()
        services.deliver(db.session, [message.id], backends(app), now=clock.now())
        db.session.commit()
        db.session.refresh(message)
        db.session.expunge(message)
        return message


@pytest.mark.parametrize("mode", ["plain", "starttls", "smtps"])
def test_mail_reaches_the_server_after_login_with_subject_sender_and_chinese_body(app, clock, ca, mode):
    with MailServer(mode, ca) as server:
        app.config.update(server.settings(), SMTP_STARTTLS=mode == "starttls", SMTP_SSL=mode == "smtps",
                          SMTP_CA_FILE=ca.ca_file)  # fmt: skip
        message = queue_and_deliver(app, clock)
    assert (message.sent_at, message.error, message.attempts) == (clock.now(), "", 1)
    (received,) = server.received
    assert received.login == USERNAME
    assert received.recipients == ["fleet-admin@example.cn"] and received.sender == "portal@example.cn"
    mail = received.message
    assert mail["Subject"] == SUBJECT and mail["To"] == "fleet-admin@example.cn"
    assert (
        mail["From"].addresses[0].display_name == "车队卡"
        and mail["From"].addresses[0].addr_spec == "portal@example.cn"
    )
    assert mail.get_content().replace("\r\n", "\n").strip() == BODY and mail.get_content_charset() == "utf-8"


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_a_certificate_the_client_does_not_trust_is_refused_and_retried(app, clock, ca, mode):
    """No SMTP_CA_FILE: the throwaway CA is not among the system's, so TLS must fail (it is verified)."""
    with MailServer(mode, ca) as server:
        app.config.update(server.settings(), SMTP_STARTTLS=mode == "starttls", SMTP_SSL=mode == "smtps")
        message = queue_and_deliver(app, clock)
    assert server.received == [] and message.sent_at is None
    assert "SSLCertVerificationError" in message.error and "certificate verify failed" in message.error
    assert message.next_attempt_at == clock.now() + services.retry_delay(1)


def test_a_wrong_password_is_recorded_and_retried_and_nothing_is_delivered(app, clock):
    with MailServer("plain") as server:
        app.config.update(server.settings(), SMTP_PASSWORD="not-the-password")
        message = queue_and_deliver(app, clock)
    assert server.received == []
    assert message.sent_at is None and message.error.startswith("SMTPAuthenticationError: (535")
    assert (message.attempts, message.next_attempt_at) == (1, clock.now() + timedelta(minutes=1))
    assert message.body == BODY  # kept for the retry


def test_no_login_means_no_delivery(app, clock):
    """The test server refuses mail from a session that did not log in (so the login tests can fail)."""
    with MailServer("plain") as server:
        app.config.update(server.settings(), SMTP_USERNAME=None, SMTP_PASSWORD=None)
        message = queue_and_deliver(app, clock)
    assert server.received == [] and "530" in message.error and message.sent_at is None


def test_a_server_that_never_answers_fails_within_smtp_timeout(app, clock):
    with SilentServer() as silent:
        app.config.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=silent.port, SMTP_TIMEOUT=0.3)
        started = time.monotonic()
        message = queue_and_deliver(app, clock)
        took = time.monotonic() - started
    assert took < 3, took  # the default SMTP_TIMEOUT is 10 s: this proves the setting reaches the socket
    assert message.error in (
        "TimeoutError: timed out",
        "SMTPServerDisconnected: Connection unexpectedly closed: timed out",
    )
    assert message.sent_at is None and message.next_attempt_at == clock.now() + timedelta(minutes=1)


def test_a_mailbox_the_server_refuses_for_good_is_given_up_at_once_with_the_address_masked(app, clock):
    with MailServer("plain") as server:
        server.inbox.rcpt_replies["nobody@example.cn"] = "550 5.1.1 <nobody@example.cn>: no such mailbox"
        app.config.update(server.settings())
        message = queue_and_deliver(app, clock, recipient="nobody@example.cn")
    assert server.received == [] and message.sent_at is None
    assert (message.attempts, message.next_attempt_at, message.body) == (1, None, "")  # given up, not 8 tries
    assert message.error.startswith("PermanentFailure: SMTPRecipientsRefused: n***@example.cn: 550")
    assert "nobody@example.cn" not in message.error


def test_a_mailbox_busy_for_now_is_retried_with_the_address_masked(app, clock):
    with MailServer("plain") as server:
        server.inbox.rcpt_replies["busy@example.cn"] = "450 4.2.1 <busy@example.cn>: mailbox busy"
        app.config.update(server.settings())
        message = queue_and_deliver(app, clock, recipient="busy@example.cn")
    assert message.sent_at is None and message.next_attempt_at == clock.now() + services.retry_delay(1)
    assert message.error.startswith("SMTPRecipientsRefused:") and "b***@example.cn" in message.error
    assert "busy@example.cn" not in message.error and message.body == BODY  # kept for the retry


@pytest.mark.parametrize(("reply", "retried"), [("554 5.6.0 message refused", False), ("451 4.3.0 try later", True)])
def test_a_permanent_answer_to_the_message_is_given_up_and_a_temporary_one_retried(app, clock, reply, retried):
    with MailServer("plain") as server:
        server.inbox.data_reply = reply
        app.config.update(server.settings())
        message = queue_and_deliver(app, clock)
    assert message.sent_at is None and (message.next_attempt_at is not None) == retried
    assert message.error.startswith("SMTPDataError" if retried else "PermanentFailure: SMTPDataError: 554")
