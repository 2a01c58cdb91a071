"""Delivery backends: what every backend is given (`Outgoing`) and may raise (`PermanentFailure`), and
the development console. The real ones: mail through Flask-Mailman (portal.notify.mail), SMS through
the Tencent Cloud SMS API (portal.notify.sms)."""

from __future__ import annotations

import sys
from collections import deque
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


#: How many messages a console outbox keeps (the newest), per process.
CONSOLE_KEEP = 200


def console_outbox() -> deque[Outgoing]:
    """The messages a console backend printed, newest last, kept in this process's memory only: the
    outbox table blanks a message's body once it is delivered, so tests and the development tools read
    codes and links here (portal.notify.web.console_messages)."""
    return deque(maxlen=CONSOLE_KEEP)


class ConsoleBackend:
    """Development: print the message, and keep it in `kept` (a `console_outbox`) if given."""

    def __init__(self, channel: str, stream=None, kept: deque[Outgoing] | None = None):
        self.channel = channel
        self.stream = stream
        self.kept = kept

    def send(self, message: Outgoing) -> None:
        if self.kept is not None:
            self.kept.append(message)
        stream = self.stream or sys.stdout
        print(
            f"--- {self.channel} to {message.recipient}: {message.subject}\n{message.body}\n---",
            file=stream,
            flush=True,
        )
