"""Ledger benchmark (not a test): pgbench's tpcb-like at N clients, then the ledger's single
transfers at N concurrent workers for the same time, alternating for --rounds rounds (medians are
reported), then one batch allocation to 1,000 cards.

    .venv/bin/python bench/ledger.py [--seconds 10] [--clients 8] [--rounds 3] [--database-url URL] [--sqlite]

PostgreSQL URL from --database-url or $BENCH_DATABASE_URL (the database is created if missing and
rebuilt from the migrations). The last line printed is JSON with the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, make_url, select, text  # noqa: E402

from portal import ledger  # noqa: E402
from portal.clock import utcnow  # noqa: E402
from portal.db import make_engine, make_sessionmaker  # noqa: E402
from portal.ledger.models import Account  # noqa: E402
from portal.schema import upgrade  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_ledger_bench"
#: The ledger's own migration: the benchmark needs its tables and what they point at, nothing else.
LEDGER_REVISION = "0002"
CUSTOMERS = 100  # transfer workload: unit <-> reserve of 10 cards each
CARDS_PER_CUSTOMER = 10
BATCH_CARDS = 1_000


def log(line: str) -> None:
    print(line, flush=True)


# --- set-up ---------------------------------------------------------------------------------------


def prepare_postgres(url: str) -> None:
    """Create the database if missing and empty it."""
    parsed = make_url(url)
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": parsed.database}).first():
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def build_books(engine) -> dict:
    """Customers with funded unit accounts and cards, inserted in bulk (set-up is not measured)."""
    with engine.begin() as conn:
        upgrade(conn, LEDGER_REVISION)
    now = utcnow()
    session = make_sessionmaker(engine)()
    # Raw SQL for other areas' tables: only the columns the foundation migration guarantees.
    region_id = session.execute(
        text("INSERT INTO regions (code, name_zh, name_en) VALUES ('11', '北京', 'Beijing') RETURNING id")
    ).scalar_one()
    customer_ids = []
    for n in range(CUSTOMERS + 1):  # the last one gets the 1,000 batch cards
        customer_ids.append(
            session.execute(
                text(
                    "INSERT INTO customers (name, credit_code, region_id, contact_name, phone, email, address, "
                    "invoice_title, invoice_tax_number, created_at) "
                    "VALUES (:name, :code, :region, '', '', '', '', '', '', :now) RETURNING id"
                ),
                {
                    "name": f"bench {n}",
                    "code": f"91BENCH{n:011d}",
                    "region": region_id,
                    "now": now.replace(tzinfo=None),
                },
            ).scalar_one()
        )
        ledger.open_customer_accounts(session, customer_ids[-1])
    card_rows = []
    for n, customer_id in enumerate(customer_ids):
        count = BATCH_CARDS if n == CUSTOMERS else CARDS_PER_CUSTOMER
        card_rows += [
            {"number": f"8{customer_id:07d}{i:08d}", "customer": customer_id, "now": now.replace(tzinfo=None)}
            for i in range(count)
        ]
    session.execute(
        text(
            "INSERT INTO cards (number, customer_id, role, status, nickname, issued_at, expires_on) "
            "VALUES (:number, :customer, 'sub', 'active', '', :now, '2030-12-31')"
        ),
        card_rows,
    )
    cards = session.execute(text("SELECT id, customer_id FROM cards")).all()
    zero = {
        "debits_posted": 0,
        "credits_posted": 0,
        "debits_pending": 0,
        "credits_pending": 0,
        "frozen": False,
        "closed": False,
        "no_overdraft": True,
        "created_at": now,
    }
    session.execute(
        insert(Account),
        [{"kind": "reserve", "ledger": "CNY", "customer_id": c, "card_id": card, **zero} for card, c in cards],
    )
    clearing = ledger.system_account(session, "deposits_clearing")
    units = {c: ledger.unit_account(session, c).id for c in customer_ids}
    ledger.transfer_batch(
        session,
        [ledger.TransferRequest(f"fund:{c}", clearing.id, u, 10**11, "deposit") for c, u in units.items()],
        now=now,
    )
    reserves: dict[int, list[int]] = {}
    for account_id, customer_id in session.execute(select(Account.id, Account.customer_id).filter_by(kind="reserve")):
        reserves.setdefault(customer_id, []).append(account_id)
    # Fund the workload's reserves, so that a collection never finds an empty one: every measured
    # attempt is a transfer that succeeds, not a refusal rolled back.
    ledger.transfer_batch(
        session,
        [
            ledger.TransferRequest(f"seed:{r}", units[c], r, 10**6, "allocation")
            for c in customer_ids[:-1]
            for r in reserves[c]
        ],
        now=now,
    )
    session.commit()
    session.close()
    batch_customer = customer_ids[-1]
    return {
        "pairs": [(units[c], reserves[c]) for c in customer_ids[:-1]],
        "batch": (units[batch_customer], reserves[batch_customer]),
    }


# --- the three measurements -----------------------------------------------------------------------


class Pgbench:
    """pgbench's own database, initialised once and run once per round."""

    def __init__(self, url: str, scale: int):
        parsed = make_url(url)
        self.database = parsed.database + "_pgbench"
        self.conn = [
            "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres",
        ]  # fmt: skip
        self.env = dict(os.environ, PGPASSWORD=parsed.password or "")
        self._run("dropdb", "--if-exists", self.database)
        self._run("createdb", self.database)
        self._run("pgbench", "-i", "-q", "-s", str(scale), self.database)

    def _run(self, command: str, *args: str) -> str:
        return subprocess.run(
            [command, *self.conn, *args], check=True, env=self.env, capture_output=True, text=True
        ).stdout

    def tps(self, clients: int, seconds: int) -> float:
        out = self._run("pgbench", "-c", str(clients), "-j", "2", "-T", str(seconds), "-b", "tpcb-like", self.database)
        return float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))

    def drop(self) -> None:
        self._run("dropdb", "--if-exists", self.database)


def transfer_worker(url: str, pairs: list, seconds: float, seed: str, counts, slot: int, start) -> None:
    """Single transfers, one commit each: allocation unit -> reserve or collection reserve -> unit."""
    engine = make_engine(url)
    session = make_sessionmaker(engine)()
    rnd = random.Random(seed)
    now = utcnow()
    done = 0
    start.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        unit, reserves = rnd.choice(pairs)
        reserve = rnd.choice(reserves)
        tid = f"b:{seed}:{done}"
        if rnd.random() < 0.7:
            request = ledger.TransferRequest(tid, unit, reserve, rnd.randint(1, 10_000), "allocation")
        else:
            request = ledger.TransferRequest(tid, reserve, unit, 1, "collection")
        try:
            ledger.transfer(session, request, now=now)
            session.commit()
            done += 1
        except ledger.InsufficientFunds:
            session.rollback()
    counts[slot] = done
    session.close()
    engine.dispose()


def run_transfers(url: str, pairs: list, clients: int, seconds: float, mode: str, round_: int = 0) -> float:
    if mode == "process":
        ctx = multiprocessing.get_context("spawn")
        counts, start = ctx.Array("q", clients), ctx.Barrier(clients + 1)
        workers = [
            ctx.Process(target=transfer_worker, args=(url, pairs, seconds, f"{round_}.{n}", counts, n, start))
            for n in range(clients)
        ]
    else:
        counts, start = [0] * clients, threading.Barrier(clients + 1)
        workers = [
            threading.Thread(target=transfer_worker, args=(url, pairs, seconds, f"{round_}.{n}", counts, n, start))
            for n in range(clients)
        ]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - began)


def run_batch(url: str, unit: int, reserves: list[int]) -> float:
    engine = make_engine(url)
    session = make_sessionmaker(engine)()
    session.execute(select(1))  # connect before timing
    session.rollback()
    requests = [ledger.TransferRequest(f"alloc:bench:{i}", unit, r, 100, "allocation") for i, r in enumerate(reserves)]
    began = time.perf_counter()
    ledger.transfer_batch(session, requests, now=utcnow(), batch_id="bench")
    session.commit()
    elapsed = time.perf_counter() - began
    assert ledger.verify(session).ok
    session.close()
    engine.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--sqlite", action="store_true", help="run on a temporary SQLite file, without pgbench")
    parser.add_argument("--seconds", type=int, default=10, help="duration of pgbench and of the transfer run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--scale", type=int, default=1, help="pgbench -i scale factor (pgbench's default: 1)")
    parser.add_argument("--workers", choices=("thread", "process"), default="thread")
    parser.add_argument(
        "--rounds", type=int, default=3, help="pgbench and transfer runs alternate this many times; medians are kept"
    )
    args = parser.parse_args()

    if args.sqlite:
        url = "sqlite:///" + os.path.join(tempfile.mkdtemp(prefix="ledger-bench-"), "bench.db")
        pgbench = None
    else:
        url = args.database_url
        prepare_postgres(url)
        pgbench = Pgbench(url, args.scale)
    engine = make_engine(url)
    books = build_books(engine)
    engine.dispose()
    # Alternating the anchor and the ledger, round after round, gives both the same machine: on a
    # shared box a single run of each can land in different weather.
    pgbench_runs, transfer_runs = [], []
    for round_ in range(args.rounds):
        if pgbench is not None:
            pgbench_runs.append(pgbench.tps(args.clients, args.seconds))
            log(f"round {round_ + 1}: pgbench tpcb-like (scale {args.scale}, {args.clients} clients) "
                f"{pgbench_runs[-1]:.0f} tps")  # fmt: skip
        transfer_runs.append(run_transfers(url, books["pairs"], args.clients, args.seconds, args.workers, round_))
        log(f"round {round_ + 1}: ledger single transfers ({args.clients} {args.workers} workers) "
            f"{transfer_runs[-1]:.0f} tps")  # fmt: skip
    if pgbench is not None:
        pgbench.drop()
    pgbench_tps = statistics.median(pgbench_runs) if pgbench_runs else None
    transfer_tps = statistics.median(transfer_runs)
    unit, reserves = books["batch"]
    batch_s = run_batch(url, unit, reserves[:BATCH_CARDS])
    log(f"one batch allocation to {BATCH_CARDS} cards: {batch_s:.3f} s")
    result = {
        "database": "sqlite" if args.sqlite else "postgresql",
        "pgbench_tps": round(pgbench_tps, 1) if pgbench_tps else None,
        "pgbench_scale": None if args.sqlite else args.scale,
        "transfer_tps": round(transfer_tps, 1),
        "ratio": round(transfer_tps / pgbench_tps, 2) if pgbench_tps else None,
        "round_ratios": [round(t / p, 2) for t, p in zip(transfer_runs, pgbench_runs, strict=True)]
        if pgbench_runs
        else None,
        "batch_1000_s": round(batch_s, 3),
        "clients": args.clients,
        "workers": args.workers,
        "seconds": args.seconds,
        "rounds": args.rounds,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
