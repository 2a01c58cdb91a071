"""Delivery latency of mail and SMS: from queueing a message to the server having it (not a timed test).

Starts a local SMTP server that wants a login (aiosmtpd; with --tls, STARTTLS with a throwaway CA's
certificate the client verifies) and a local Tencent Cloud SMS gateway that checks every request's
TC3 signature (tests/notify_servers.py), points the portal's settings at them, then N times per
channel: queues one message in its own transaction, commits, and delivers it as the web side does
right after the commit (notify.web.dispatch, in the foreground). Latency: from just before the queueing
to the server's receipt of the message (mail: after DATA; SMS: after the signature check).

Usage:
  .venv/bin/python bench/notify.py [--database-url URL] [--messages N] [--tls]
Default: a SQLite file in a temporary folder; a PostgreSQL URL is rebuilt first.
Last line: JSON with the figures (milliseconds).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(url: str) -> None:
    if url.startswith("postgresql"):
        from bench._common import rebuild_database

        rebuild_database(url)
        return
    from portal.db import make_engine
    from portal.schema import upgrade

    engine = make_engine(url)
    with engine.begin() as conn:
        upgrade(conn)
    engine.dispose()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50_ms": round(cut[49], 2), "p95_ms": round(cut[94], 2), "max_ms": round(ordered[-1], 2)}


def measure(app, channel: str, count: int, server) -> list[float]:
    """Queue, commit and deliver `count` messages one at a time; each one's queue-to-received time."""
    from portal.extensions import db
    from portal.notify import services
    from portal.notify import web as notify_web

    latencies = []
    for n in range(count):
        started = time.monotonic()
        with app.test_request_context():
            if channel == "email":
                message = services.queue(db.session, "email", f"fleet{n}@example.cn", "车队卡门户：注册验证码",
                                         f"您的注册验证码为 {n:06d}，10 分钟内有效。", now=notify_web.clock().now())  # fmt: skip
            else:
                message = services.queue(db.session, "sms", f"1380013{n % 10000:04d}", "",
                                         f"您的注册验证码为 {n:06d}，10 分钟内有效。", now=notify_web.clock().now(),
                                         template="registration_code", params={"code": f"{n:06d}", "minutes": "10"})  # fmt: skip
            db.session.commit()
            notify_web.dispatch([message.id])
        if not server.wait_for(n + 1):
            raise SystemExit(f"{channel} message {n} did not arrive")
        received = server.received[n] if channel == "email" else server.sent[n]
        latencies.append((received.at - started) * 1000)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--tls", action="store_true", help="mail over STARTTLS (verified) instead of plain on loopback")
    args = parser.parse_args()
    url = args.database_url or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "notify-bench.db")
    build(url)

    from portal import create_app
    from tests.notify_servers import MailServer, TencentGateway, TestCA

    ca = TestCA(Path(tempfile.mkdtemp())) if args.tls else None
    with MailServer("starttls" if args.tls else "plain", ca) as mail, TencentGateway() as gateway:
        settings = mail.settings() | gateway.settings()
        if ca:
            settings |= {"SMTP_STARTTLS": True, "SMTP_CA_FILE": ca.ca_file}
        app = create_app("development", DATABASE_URL=url, NOTIFY_IN_BACKGROUND=False, LOG_FORMAT="", **settings)
        logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd logs every command
        figures = {}
        for channel, server in (("email", mail), ("sms", gateway)):
            samples = measure(app, channel, args.messages, server)
            figures[channel] = percentiles(samples)
            print(f"{channel}: {args.messages} messages, queue to received " + ", ".join(
                f"{k.removesuffix('_ms')} {v} ms" for k, v in figures[channel].items()))  # fmt: skip
        if gateway.rejected:
            raise SystemExit(f"the gateway refused requests: {gateway.rejected[:3]}")
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    figures |= {"messages": args.messages, "mail": "starttls" if args.tls else "plain", "database": database,
                "load_average": os.getloadavg()[0]}  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
