"""How long the scheduled jobs take with a backlog (not a timed test).

Builds a fresh database, queues N overdue chip loads and N messages due for delivery, then runs
`expire-loads` and `deliver-outbox` once each through the jobs runner (as the worker does) and
prints each run's time (the development console backend's printing goes to /dev/null).

Usage:
  .venv/bin/python bench/jobs.py [--database-url URL] [--loads N] [--messages N]
Default: a SQLite file in a temporary folder; a PostgreSQL URL is emptied first.
Last line: JSON with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def build(url: str, loads_wanted: int, messages: int) -> None:
    from sqlalchemy import text

    from portal.cards.models import Card
    from portal.chips.loads import request_load
    from portal.db import make_engine, make_sessionmaker
    from portal.funds import services
    from portal.funds.plan import RawLine
    from portal.notify.services import queue
    from portal.schema import upgrade
    from tests.builders import funds_customers

    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
    with engine.begin() as conn:
        upgrade(conn)
    session = make_sessionmaker(engine)()
    w = funds_customers(session, T0, deposit=10_000_000)
    lines = [RawLine(1, w.a1_number, "50000")]
    batch = services.prepare_batch(session, customer_id=w.a, kind="allocation", lines=lines, actor_id=w.admin_a, now=T0)
    services.confirm_batch(session, batch, actor_id=w.admin_a, now=T0)
    card = session.get(Card, w.a1)
    for n in range(loads_wanted):
        request_load(session, load_id=f"bench-{n}", card=card, amount=100, actor_id=w.admin_a, now=T0)
    for n in range(messages):
        queue(session, "sms", f"1380000{n:04d}", "", f"code {n:06d}", now=T0)
    session.commit()
    session.close()
    engine.dispose()


def measure(url: str) -> dict[str, int]:
    from portal import create_app
    from portal.chips.loads import DEFAULT_LOAD_EXPIRY
    from portal.clock import FrozenClock
    from portal.jobs.web import run_job

    app = create_app("development", DATABASE_URL=url)
    app.extensions["portal.clock"] = FrozenClock(T0 + DEFAULT_LOAD_EXPIRY + timedelta(minutes=1))
    figures = {}
    for name in ("expire-loads", "deliver-outbox"):
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            run = run_job(app, name, manual=True)
        print(f"{name}: {run.status} in {run.duration_ms} ms: {run.detail}")
        figures[f"{name}_ms"] = run.duration_ms
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--loads", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    url = args.database_url or "sqlite:///" + os.path.join(tempfile.mkdtemp(), "jobs-bench.db")
    build(url, args.loads, args.messages)
    figures = measure(url) | {"loads": args.loads, "messages": args.messages, "load_average": os.getloadavg()[0]}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
