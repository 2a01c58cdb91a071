"""Mail through Flask-Mailman's SMTP backend: login, STARTTLS or SMTPS, a timeout.

Our settings (SMTP_*, MAIL_SENDER) are mapped onto Flask-Mailman's MAIL_* keys in one place,
`mailman_config`. Flask-Mailman is never initialised from the app's own config: its MAIL_BACKEND key
would read ours ("console" is a Flask-Mailman backend too) and our SMTP_* would be ignored.

TLS always verifies the server's certificate and name, against the system's CAs or SMTP_CA_FILE:
Flask-Mailman's SMTPS does, but its STARTTLS hands smtplib no context, and smtplib's default one
verifies nothing; `VerifiedSMTP` gives STARTTLS the same verifying context.
"""

from __future__ import annotations

import functools
import smtplib
import ssl
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_mailman import EmailMessage, Mail
from flask_mailman.backends.smtp import EmailBackend
from werkzeug.utils import cached_property

from portal.notify.backends import Outgoing, PermanentFailure

#: Seconds to wait for the mail server (connect, and each reply) unless SMTP_TIMEOUT says otherwise.
DEFAULT_TIMEOUT = 10


def mailman_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Flask-Mailman's settings from ours (the one place the two sets of names meet)."""
    return {
        "MAIL_BACKEND": "smtp",  # Flask-Mailman's own choice, never our MAIL_BACKEND ("console" / "smtp")
        "MAIL_SERVER": config.get("SMTP_HOST") or "127.0.0.1",
        "MAIL_PORT": int(config.get("SMTP_PORT") or 25),
        "MAIL_USERNAME": config.get("SMTP_USERNAME") or None,
        "MAIL_PASSWORD": config.get("SMTP_PASSWORD") or None,
        "MAIL_USE_TLS": bool(config.get("SMTP_STARTTLS")),
        "MAIL_USE_SSL": bool(config.get("SMTP_SSL")),
        "MAIL_TIMEOUT": float(config.get("SMTP_TIMEOUT") or DEFAULT_TIMEOUT),
        "MAIL_DEFAULT_SENDER": config.get("MAIL_SENDER") or "portal@localhost",
        "MAIL_DEFAULT_CHARSET": "utf-8",
    }


@functools.cache
def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A client context that checks the certificate chain and the host name: against `ca_file` (a
    private CA's PEM) if given, else the system's CAs. Built once per process: loading the system's
    CAs takes 20 to 300 ms, which every message paid before (bench/notify.py)."""
    return ssl.create_default_context(cafile=ca_file or None)


class VerifiedSMTP(smtplib.SMTP):
    """smtplib.SMTP whose STARTTLS uses `tls_context` when the caller gives none (Flask-Mailman never does)."""

    def __init__(self, *args, tls_context: ssl.SSLContext, **kwargs):
        self.tls_context = tls_context
        super().__init__(*args, **kwargs)

    def starttls(self, *args, context=None, **kwargs):
        return super().starttls(*args, context=context or self.tls_context, **kwargs)


class VerifiedEmailBackend(EmailBackend):
    """Flask-Mailman's SMTP backend with one verifying TLS context for SMTPS and STARTTLS alike."""

    def __init__(self, *, context: ssl.SSLContext | None, **kwargs):
        super().__init__(**kwargs)
        self._context = context

    @cached_property
    def ssl_context(self) -> ssl.SSLContext:  # used by Flask-Mailman for SMTPS
        return self._context

    @property
    def connection_class(self):
        if self.use_ssl:
            return smtplib.SMTP_SSL
        return functools.partial(VerifiedSMTP, tls_context=self._context)


class Mailer:
    """The mail backend: one SMTP connection per message (the outbox sends one at a time)."""

    def __init__(self, app: Flask, config: Mapping[str, Any]):
        self.app = app
        self.state = Mail.init_mail(mailman_config(config))
        self.ca_file = config.get("SMTP_CA_FILE") or None

    def send(self, message: Outgoing) -> None:
        context = tls_context(self.ca_file) if self.state.use_tls or self.state.use_ssl else None
        with self.app.app_context():  # Flask-Mailman reads its settings from the app
            connection = VerifiedEmailBackend(mailman=self.state, context=context)
            mail = EmailMessage(
                message.subject, message.body, self.state.default_sender, [message.recipient], connection=connection
            )
            try:
                mail.send()
            except BaseException as error:
                _drop(connection)
                if refused := permanent(error):
                    raise refused from error
                raise


def permanent(error: BaseException) -> PermanentFailure | None:
    """A mail server's answer that no retry can change, as a PermanentFailure: every recipient refused
    with a 5xx ("550 no such mailbox"), or a 5xx to the sender or the message. A 4xx (mailbox busy,
    greylisting) is retried; so is a failed login (535): the settings are at fault, not this message."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = list(error.recipients.values())
        if replies and all(code >= 500 for code, _text in replies):
            detail = "; ".join(f"{address}: {code} {_text(text)}" for address, (code, text) in error.recipients.items())
            return PermanentFailure(f"SMTPRecipientsRefused: {detail}")
        return None
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return None
    if isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500:
        return PermanentFailure(f"{type(error).__name__}: {error.smtp_code} {_text(error.smtp_error)}")
    return None


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _drop(connection: EmailBackend) -> None:
    """Close the socket of a send that failed. Flask-Mailman leaves it open when the login or a command
    fails; no QUIT either, as a server that timed out would make us wait once more."""
    if connection.connection is not None:
        connection.connection.close()
        connection.connection = None


def init_app(app: Flask) -> None:
    """Register Flask-Mailman's state (its messages read the charset and date style from it)."""
    app.extensions["mailman"] = Mail.init_mail(mailman_config(app.config))
