"""Delivery backends. Plain Python: the mail backend speaks SMTP; SMS goes through `SmsProvider`, whose
only implementation here is the development console (a real gateway plugs in behind the same method)."""

from __future__ import annotations

import smtplib
import sys
from email.message import EmailMessage
from typing import Protocol


class Backend(Protocol):
    def send(self, recipient: str, subject: str, body: str) -> None: ...


class SmsProvider(Backend, Protocol):
    """An SMS gateway. `subject` is ignored (SMS has none)."""


class ConsoleBackend:
    """Development: print the message. The outbox table keeps it too, for tests and developers."""

    def __init__(self, channel: str, stream=None):
        self.channel = channel
        self.stream = stream

    def send(self, recipient: str, subject: str, body: str) -> None:
        stream = self.stream or sys.stdout
        print(f"--- {self.channel} to {recipient}: {subject}\n{body}\n---", file=stream, flush=True)


class SmtpMailer:
    """Mail over SMTP (a local relay in production; aiosmtpd in the tests)."""

    def __init__(self, host: str, port: int, sender: str, *, starttls: bool = False, timeout: float = 10):
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.timeout = starttls, timeout

    def send(self, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = recipient
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            smtp.send_message(message)
