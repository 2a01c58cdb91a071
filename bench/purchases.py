"""Purchase-authorization benchmark (not a test): authorizations per second through the real HTTP
path (gunicorn, 2 sync workers, PostgreSQL), and, in the same run and the same way, the bare
framework's requests per second for a trivial endpoint as the anchor. For scale it also measures
the bare framework running one database transaction per request (BEGIN, SELECT 1, COMMIT):
`one_query_ratio` is what a single round-trip transaction costs against the anchor.

    .venv/bin/python bench/purchases.py [--seconds 10] [--clients 8] [--cards 200] [--threads 1]
                                        [--database-url URL]

The database ($BENCH_DATABASE_URL or --database-url; default portal_stations_bench) is created if
missing and rebuilt from the migrations. The last line printed is JSON with auth_rps, hello_rps,
ratio, one_query_rps and one_query_ratio.
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

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_stations_bench"


def hello_app():
    """The anchor: the bare framework answering a trivial endpoint. Also, for scale, the bare
    framework running one database transaction (BEGIN, SELECT 1, COMMIT) per request."""
    from flask import Flask

    app = Flask("hello")
    engine = make_engine(os.environ["DATABASE_URL"])

    @app.get("/hello")
    def hello():
        return "ok"

    @app.get("/one-query")
    def one_query():
        with engine.begin() as conn:
            return str(conn.execute(text("SELECT 1")).scalar())

    return app


def prepare(url: str, cards: int) -> tuple[str, list[str]]:
    rebuild_database(url)
    engine = make_engine(url)
    now = utcnow()
    with make_sessionmaker(engine)() as session:
        region = Region(code="11", name_zh="北京", name_en="Beijing")
        session.add(region)
        session.add(Product(code="92", kind="gasoline", name_zh="92#汽油", name_en="92# gasoline"))
        session.flush()
        station = Station(
            code="ST110001", name="bench", region_id=region.id, city="北京", lat_e6=39_900_000, lon_e6=116_400_000
        )
        customer = Customer(name="bench", credit_code="911100000000000BEN", region_id=region.id)
        session.add_all([station, customer])
        session.flush()
        ledger.open_customer_accounts(session, customer.id)
        numbers = []
        clearing = ledger.system_account(session, "deposits_clearing")
        unit = ledger.unit_account(session, customer.id)
        T = ledger.TransferRequest
        ledger.transfer(session, T("bench-dep", clearing.id, unit.id, cards * 10**8, "deposit"), now=now)
        for i in range(cards):
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
        _terminal, key = create_terminal(session, station, "bench", now=now)
        session.commit()
    engine.dispose()
    return key, numbers


def _client(args) -> tuple[int, int]:
    kind, port, seconds, key, numbers, worker = args
    rng = random.Random(worker)
    done = errors = 0
    seq = worker * 10**9
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        if kind in ("hello", "one-query"):
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
            conn.request(
                "POST",
                "/api/terminal/v1/purchases",
                body,
                {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            )
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        ok = response.status == 200 and (kind != "auth" or b'"approved":true' in payload)
        done += ok
        errors += not ok
    return done, errors


def measure(kind: str, port: int, seconds: float, clients: int, key: str = "", numbers=()) -> tuple[float, int]:
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(_client, [(kind, port, seconds, key, list(numbers), w) for w in range(clients)])
    done = sum(r[0] for r in results)
    return done / seconds, sum(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per gunicorn worker (gthread), for both servers; 1: sync"
    )
    args = parser.parse_args()

    key, numbers = prepare(args.database_url, args.cards)
    # Every request comes from one terminal here; a real pump sends a few a minute (limit 600/min).
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "PORTAL_ENV": "development",
        "TERMINAL_REQUEST_LIMIT": "1000000 per minute",
    }

    port = free_port()
    hello = serve("bench.purchases:hello_app()", port, env, args.threads)
    try:
        measure("hello", port, 1, args.clients)  # warm-up
        hello_rps, hello_errors = measure("hello", port, args.seconds, args.clients)
        one_query_rps, _errors = measure("one-query", port, args.seconds, args.clients)
    finally:
        hello.terminate()
        hello.wait()
    print(f"hello: {hello_rps:.0f} requests/s ({hello_errors} errors)")
    print(f"one transaction with SELECT 1: {one_query_rps:.0f} requests/s")

    port = free_port()
    portal = serve("portal:create_app()", port, env, args.threads)
    try:
        measure("auth", port, 1, args.clients, key, numbers)  # warm-up
        auth_rps, auth_errors = measure("auth", port, args.seconds, args.clients, key, numbers)
    finally:
        portal.terminate()
        portal.wait()
    print(f"authorize: {auth_rps:.0f} approvals/s ({auth_errors} errors) over {args.cards} cards")
    print(
        json.dumps(
            {
                "auth_rps": round(auth_rps, 1),
                "hello_rps": round(hello_rps, 1),
                "ratio": round(auth_rps / hello_rps, 3) if hello_rps else None,
                "one_query_rps": round(one_query_rps, 1),
                "one_query_ratio": round(one_query_rps / hello_rps, 3) if hello_rps else None,
                "clients": args.clients,
                "seconds": args.seconds,
                "cards": args.cards,
                "workers": 2,
                "threads": args.threads,
                "auth_errors": auth_errors,
            }
        )
    )


if __name__ == "__main__":
    main()
