"""Delivery backends: what every backend is given (`Outgoing`) and may raise (`PermanentFailure`), and
the development console. The real ones: mail through Flask-Mailman (portal.notify.mail), SMS through
the Tencent Cloud SMS API (portal.notify.sms)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    """One message to send. `template` and `params` are for SMS gateways, which only send templates
    approved in advance ("registration_code" with {"code": ..., "minutes": ...}); `body` is the same
    text in full, for mail and the console."""

    recipient: str
    subject: str
    body: str
    template: str = ""
    params: Mapping[str, str] = field(default_factory=dict)


class PermanentFailure(Exception):
    """The provider refused this message for good (an invalid number, a blocked one): no retry can help."""


class Backend(Protocol):
    def send(self, message: Outgoing) -> None:
        """Deliver or raise: PermanentFailure to give up at once, any other exception to retry later."""


class ConsoleBackend:
    """Development: print the message. The outbox table keeps it too, for tests and developers."""

    def __init__(self, channel: str, stream=None):
        self.channel = channel
        self.stream = stream

    def send(self, message: Outgoing) -> None:
        stream = self.stream or sys.stdout
        print(
            f"--- {self.channel} to {message.recipient}: {message.subject}\n{message.body}\n---",
            file=stream,
            flush=True,
        )
