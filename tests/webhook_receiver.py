"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 in a thread that checks every
request's Standard Webhooks signature with `standardwebhooks.Webhook.verify` (the way a customer's
receiver would) and keeps what arrived. `replies` scripts its answers: a status code, or "slow" (it
answers after `slow_seconds`, past the sender's timeout), or (status, body bytes)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Arrival:
    headers: dict[str, str]
    body: bytes
    #: The parsed payload if the signature verified, else None.
    payload: dict | None
    error: str = ""

    @property
    def verified(self) -> bool:
        return self.payload is not None


class WebhookReceiver:
    def __init__(self, secret: str | None = None, slow_seconds: float = 1.0):
        #: Set (or change) once the endpoint's secret is known.
        self.secret = secret
        self.slow_seconds = slow_seconds
        self.arrivals: list[Arrival] = []
        self.replies: deque = deque()
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._record(dict(self.headers.items()), body)
                reply = receiver.replies.popleft() if receiver.replies else 200
                if isinstance(reply, tuple):
                    self._answer(*reply)
                    return
                if reply == "slow":
                    time.sleep(receiver.slow_seconds)  # the receiver is slow; the test itself never waits
                    reply = 200
                if reply in (301, 302, 307):
                    self.send_response(reply)
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                    self.end_headers()
                    return
                self._answer(reply, b'{"ok": true}' if reply < 300 else b"receiver failed " + b"x" * 2000)

            def _answer(self, status: int, text: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def _record(self, headers: dict[str, str], body: bytes) -> None:
        payload, error = None, ""
        try:
            payload = Webhook(self.secret or "whsec_" + "A" * 44).verify(body, headers)
        except WebhookVerificationError as failure:
            error = str(failure)
        except ValueError as failure:  # not JSON
            error = str(failure)
        with self.arrived:
            self.arrivals.append(Arrival(headers, body, payload, error))
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.arrivals) >= count, timeout)

    def payloads(self) -> list[dict]:
        return [json.loads(a.body) for a in self.arrivals]

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- endpoints for the tests -----------------------------------------------------------------------

#: What the tests encrypt secrets with (the app derives the same from its SECRET_KEY).
TEST_CONFIG = {"SECRET_KEY": "testing-secret", "WEBHOOKS_ALLOW_INSECURE": True, "WEBHOOKS_TIMEOUT": 1}


def settings(timeout: float = 0.3):
    """Delivery settings for the tests: loopback allowed, a short timeout."""
    from portal.webhooks import sealing
    from portal.webhooks.delivery import Settings

    return Settings(box=sealing.cipher(TEST_CONFIG), timeout=timeout, allow_insecure=True)


def register(session, customer_id: int, url: str, events, *, now, threshold_fen=None, actor_id=None):
    """An enabled endpoint of the customer for `events`; returns (endpoint, secret)."""
    from portal.webhooks import sealing, services

    data = services.EndpointInput(url=url, events=list(events), description="test", threshold_fen=threshold_fen)
    return services.register(session, customer_id, data, who=services.Who(actor_id), box=sealing.cipher(TEST_CONFIG),
                             now=now, allow_insecure=True)  # fmt: skip
