"""`flask --app portal notify ...`: try the configured mail and SMS backends (after setting them up
or changing a key), sending one message at once, not through the outbox."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from portal.notify.backends import Outgoing
from portal.notify.web import backends

notify = AppGroup("notify", help="Mail and SMS: send a test message through the configured backend.")


def _send(channel: str, message: Outgoing) -> None:
    try:
        backends(current_app._get_current_object())[channel].send(message)
    except Exception as error:  # noqa: BLE001  (the operator is shown why, with exit status 1)
        click.echo(f"not sent: {type(error).__name__}: {error}", err=True)
        sys.exit(1)
    click.echo(f"sent to {message.recipient}")


@notify.command("test-mail")
@click.argument("address")
def test_mail(address: str) -> None:
    """Send a test mail to ADDRESS through MAIL_BACKEND; exit 1 with the error if it fails."""
    _send(
        "email", Outgoing(address, "Fleet Card Portal: test message / 测试邮件", "车队卡门户测试邮件。\nTest message.")
    )


@notify.command("test-sms")
@click.argument("number")
def test_sms(number: str) -> None:
    """Send the registration-code template with code 000000 to NUMBER through SMS_BACKEND."""
    body = "Fleet Card Portal test: registration code 000000 / 测试短信"
    _send("sms", Outgoing(number, "", body, "registration_code", {"code": "000000", "minutes": "10"}))
