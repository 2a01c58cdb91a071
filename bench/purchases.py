"""Purchase-authorization benchmark (not a test): authorizations per second and their latency
through the real HTTP path (gunicorn sync workers, as many as the deployment runs: 2 per core + 1;
PostgreSQL), with 16 terminals at 16 stations
(one client per terminal, each with its own cards), and, in the same run, with the same gunicorn
settings and the same database pool settings, the stack's floor: a bare endpoint that runs one
database transaction per request (BEGIN, SELECT 1, COMMIT).

    .venv/bin/python bench/purchases.py [--seconds 10] [--terminals 16] [--cards 320] [--workers N] [--threads 1]
                                        [--card-reader none|virtual] [--ratelimit-storage URI]
                                        [--database-url URL]

The database ($BENCH_DATABASE_URL or --database-url; default portal_bench_purchases) is created if
missing and rebuilt from the migrations. The card reader is "none" by default, as in production (the
pump's own reader writes the chip; "virtual" is development's stand-in, which also debits a
simulated chip in the database). The last line printed is JSON: auth_rps, one_query_rps,
auth_vs_one_query (their ratio), p50_ms and p99_ms of the authorizations, and for reference
hello_rps (the bare framework without the database) and auth_cpu_ms / one_query_cpu_ms (the app
workers' CPU time per request: on a busy machine a steadier figure than requests per second).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench._common import free_port, rebuild_database, serve  # noqa: E402
from portal import ledger  # noqa: E402
from portal.cards.models import Card  # noqa: E402
from portal.clock import utcnow  # noqa: E402
from portal.customers.models import Customer  # noqa: E402
from portal.db import make_engine, make_sessionmaker  # noqa: E402
from portal.reference.models import Product, Region, Station  # noqa: E402
from portal.stations.terminals import create_terminal  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_purchases"


def floor_app():
    """The stack's floor: the bare framework answering a trivial endpoint, and running one database
    transaction per request (BEGIN, SELECT 1, COMMIT) on an engine made exactly as the portal makes
    its web engine (portal.extensions.Database: the same pool, the same per-connection time limits)."""
    from flask import Flask

    from config import load_config
    from portal.extensions import web_timeouts

    settings = load_config()
    app = Flask("floor")
    engine = make_engine(os.environ["DATABASE_URL"], timeouts=web_timeouts(settings))

    @app.get("/hello")
    def hello():
        return "ok"

    @app.get("/one-query")
    def one_query():
        with engine.begin() as conn:
            return str(conn.execute(text("SELECT 1")).scalar())

    return app


def prepare(url: str, terminals: int, cards: int) -> list[tuple[str, list[str]]]:
    """A customer whose cards are spread over `terminals` clients, and one terminal at each of as
    many stations (two regions): [(terminal key, card numbers)] per client."""
    rebuild_database(url)
    engine = make_engine(url)
    now = utcnow()
    with make_sessionmaker(engine)() as session:
        regions = [
            Region(code="11", name_zh="北京", name_en="Beijing"),
            Region(code="31", name_zh="上海", name_en="Shanghai"),
        ]
        session.add_all(regions)
        session.add(Product(code="92", kind="gasoline", name_zh="92#汽油", name_en="92# gasoline"))
        session.flush()
        customers = []
        for n in range(terminals):
            customer = Customer(name=f"bench {n}", credit_code=f"91110000000000{n:04d}", region_id=regions[0].id)
            session.add(customer)
            customers.append(customer)
        session.flush()
        T = ledger.TransferRequest
        clearing = ledger.system_account(session, "deposits_clearing")
        per_client: list[tuple[str, list[str]]] = []
        for n, customer in enumerate(customers):
            region = regions[n % 2]
            station = Station(
                code=f"ST{region.code}{n:04d}",
                name=f"bench {n}",
                region_id=region.id,
                city=region.name_zh,
                lat_e6=39_900_000 + n * 10_000,
                lon_e6=116_400_000,
            )
            session.add(station)
            session.flush()
            _terminal, key = create_terminal(session, station, f"bench {n}", now=now)
            ledger.open_customer_accounts(session, customer.id)
            unit = ledger.unit_account(session, customer.id)
            mine = list(range(n, cards, terminals))
            ledger.transfer(session, T(f"bench-dep{n}", clearing.id, unit.id, len(mine) * 10**8, "deposit"), now=now)
            numbers = []
            for i in mine:
                number = f"90301100{i:08d}"
                card = Card(number=number, customer_id=customer.id, role="sub", expires_on=date(2099, 1, 1))
                session.add(card)
                session.flush()
                ledger.open_card_accounts(session, customer.id, card.id)
                reserve = ledger.card_account(session, card.id, "reserve")
                purse = ledger.card_account(session, card.id, "purse")
                ledger.transfer(session, T(f"bench-a{i}", unit.id, reserve.id, 10**8, "allocation"), now=now)
                ledger.transfer(session, T(f"bench-l{i}", reserve.id, purse.id, 10**8, "load"), now=now)
                numbers.append(number)
            per_client.append((key, numbers))
        session.commit()
    engine.dispose()
    return per_client


def _client(args) -> tuple[int, int, list[float]]:
    kind, port, seconds, key, numbers, worker = args
    rng = random.Random(worker)
    done = errors = 0
    latencies: list[float] = []
    seq = worker * 10**9
    deadline = time.perf_counter() + seconds
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.perf_counter() < deadline:
        if kind in ("hello", "one-query"):
            started = time.perf_counter()
            conn.request("GET", "/" + kind)
        else:
            seq += 1
            litres = rng.randint(1_000, 5_000)
            body = json.dumps(
                {
                    "card_number": rng.choice(numbers),
                    "product_code": "92",
                    "litres_ml": litres,
                    "unit_price_fen": 750,
                    "amount_fen": litres * 750 // 1000,
                    "terminal_seq": seq,
                    "at": utcnow().isoformat(),
                }
            )
            started = time.perf_counter()
            conn.request(
                "POST",
                "/api/terminal/v1/purchases",
                body,
                {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            )
        try:
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):  # a timeout or a dropped connection: an error
            latencies.append(time.perf_counter() - started)
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        latencies.append(time.perf_counter() - started)
        if response.getheader("Connection", "").lower() == "close" or response.will_close:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        ok = response.status == 200 and (kind != "auth" or b'"approved":true' in payload)
        done += ok
        errors += not ok
    conn.close()
    return done, errors, latencies


def _workers_cpu_s(server) -> float:
    """CPU seconds (user + system) the gunicorn workers of `server` have used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # a worker that was just replaced
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def measure(kind: str, port: int, seconds: float, clients: list[tuple[str, list[str]]], server=None) -> dict:
    """Requests per second (successful ones), latency percentiles over every client's requests, and
    the app's CPU time per request (its gunicorn workers'; a figure the machine's load moves less)."""
    cpu_before = _workers_cpu_s(server) if server is not None else 0.0
    with multiprocessing.Pool(len(clients)) as pool:
        results = pool.map(
            _client, [(kind, port, seconds, key, numbers, w) for w, (key, numbers) in enumerate(clients)]
        )
    latencies = sorted(latency for r in results for latency in r[2])
    cpu = _workers_cpu_s(server) - cpu_before if server is not None else 0.0

    def percentile(p: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1)

    return {
        "rps": sum(r[0] for r in results) / seconds,
        "errors": sum(r[1] for r in results),
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "cpu_ms": round(cpu * 1000 / len(latencies), 2) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--terminals", type=int, default=16, help="terminals, each at its own station, one client each")
    parser.add_argument("--cards", type=int, default=320)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per gunicorn worker (gthread), for both servers; 1: sync"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=multiprocessing.cpu_count() * 2 + 1,
        help="gunicorn workers, for both servers (default the deployment's: 2 per core + 1, gunicorn.conf.py)",
    )
    parser.add_argument("--card-reader", choices=("none", "virtual"), default="none")
    parser.add_argument(
        "--ratelimit-storage",
        default=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        help="the rate limiter's storage (production: Redis, e.g. redis://127.0.0.1:6379/4); default "
        "$RATELIMIT_STORAGE_URI or memory:// (which starts a thread for every counted request)",
    )
    args = parser.parse_args()

    clients = prepare(args.database_url, args.terminals, args.cards)
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "PORTAL_ENV": "development",
        "CARD_READER": args.card_reader,
        "RATELIMIT_STORAGE_URI": args.ratelimit_storage,
        "RATELIMIT_KEY_PREFIX": "bench-purchases",
        "LOG_LEVEL": "WARNING",
        # A real pump sends a few requests a minute (limit 600/min); here each sends hundreds a second.
        "TERMINAL_REQUEST_LIMIT": "1000000 per minute",
    }

    port = free_port()
    floor = serve("bench.purchases:floor_app()", port, env, args.threads, args.workers)
    try:
        measure("hello", port, 1, clients)  # warm-up
        hello = measure("hello", port, args.seconds, clients, floor)
        one_query = measure("one-query", port, args.seconds, clients, floor)
    finally:
        floor.terminate()
        floor.wait()
    print(f"hello: {hello['rps']:.0f} requests/s ({hello['errors']} errors)")
    print(f"one transaction with SELECT 1: {one_query['rps']:.0f} requests/s, p99 {one_query['p99_ms']} ms")

    port = free_port()
    portal = serve("portal:create_app()", port, env, args.threads, args.workers)
    try:
        measure("auth", port, 1, clients)  # warm-up
        auth = measure("auth", port, args.seconds, clients, portal)
    finally:
        portal.terminate()
        portal.wait()
    print(
        f"authorize: {auth['rps']:.0f} approvals/s ({auth['errors']} errors) over {args.cards} cards at "
        f"{args.terminals} stations; p50 {auth['p50_ms']} ms, p99 {auth['p99_ms']} ms"
    )
    print(
        json.dumps(
            {
                "auth_rps": round(auth["rps"], 1),
                "one_query_rps": round(one_query["rps"], 1),
                "auth_vs_one_query": round(auth["rps"] / one_query["rps"], 3) if one_query["rps"] else None,
                "p50_ms": auth["p50_ms"],
                "p99_ms": auth["p99_ms"],
                "hello_rps": round(hello["rps"], 1),
                "one_query_p99_ms": one_query["p99_ms"],
                "auth_cpu_ms": auth["cpu_ms"],
                "one_query_cpu_ms": one_query["cpu_ms"],
                "terminals": args.terminals,
                "stations": args.terminals,
                "clients": args.terminals,
                "seconds": args.seconds,
                "cards": args.cards,
                "workers": args.workers,
                "threads": args.threads,
                "card_reader": args.card_reader,
                "ratelimit_storage": args.ratelimit_storage.split("://")[0],
                "auth_errors": auth["errors"],
            }
        )
    )


if __name__ == "__main__":
    main()
