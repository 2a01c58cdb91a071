"""Benchmark of the customer zone on PostgreSQL (not a timed test).

Builds (or reuses) a database with one customer holding 500 cards and 1,000,000 purchases over two
years, with the matching ledger journal (a transfer per approved purchase; monthly deposits,
allocations and loads), then measures through the Flask app (test client, real views, real SQL):

  first page of purchases, a filtered page (one card, one month), a page deep in the history,
  the 12-month statistics, and a CSV export of 100,000 rows (rows/s and the process's peak RSS).

Usage:
  .venv/bin/python bench/queries.py [--database-url URL] [--purchases N] [--repeat R] [--rebuild]
                                    [--no-gc-freeze]
Default URL: postgresql+psycopg://postgres@127.0.0.1:5432/portal_queries_bench (created when missing)
The data is bulk-loaded with COPY (building it through the services would take hours); the ledger
account totals are then set from the journal, so `ledger verify` holds; the daily purchase totals
(`purchases.rollup`) are rebuilt from the purchases and the database is VACUUM ANALYZEd. The
measurements run in a fresh child process so that the peak RSS is the serving process's, not the
loader's. The app is measured with PURCHASE_ROLLUP on; the `*_raw` figures are the same requests
with it off (totals and statistics from the purchases). Each figure also gives the app's own CPU
time per request, which other processes' load inflates much less than wall time.
Last line: JSON with the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_queries_bench"
CARDS = 500
#: The data ends here (end of March 2026, Beijing); the app's clock is frozen just before.
END = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
NOW = END - timedelta(hours=1)
DAYS = 730
PRODUCTS = {"92": 780, "95": 835, "98": 935, "0": 745}  # fen per litre
PASSWORD = "Bench-Password-9"


def build(url: str, purchases: int, rebuild: bool) -> None:
    from sqlalchemy import text

    from bench._common import create_database
    from portal.db import make_engine, make_sessionmaker
    from portal.schema import upgrade

    create_database(url)  # a fresh machine has none yet
    engine = make_engine(url)
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT to_regclass('public.purchases')")).scalar()
        count = conn.execute(text("SELECT count(*) FROM purchases")).scalar() if exists else 0
        # The deposits are written last: without them an earlier build did not finish.
        finished = (
            exists and conn.execute(text("SELECT count(*) FROM ledger_transfers WHERE code = 'deposit'")).scalar()
        )
    if count == purchases and finished and not rebuild:
        print(f"reusing {count:,} purchases in {engine.url.database}")
        with engine.begin() as conn:
            upgrade(conn)  # later migrations (e.g. 0009's daily totals and covering indexes)
        _prepare(engine)
        return
    print(f"building {purchases:,} purchases in {engine.url.database} ...", flush=True)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    with engine.begin() as conn:
        upgrade(conn)
    session = make_sessionmaker(engine)()
    ids = _reference_data(session)
    session.commit()
    _bulk(engine, ids, purchases)
    _prepare(engine, force=True)
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)


def _prepare(engine, force: bool = False) -> None:
    """The daily purchase totals (what `record_purchase` keeps when purchases come through the
    purchase side; COPY bypasses it), then VACUUM ANALYZE: statistics for the planner, and the
    visibility map that index-only scans need (a freshly loaded table has none)."""
    from sqlalchemy import text

    from portal.db import make_sessionmaker
    from portal.purchases import rollup

    with engine.connect() as conn:
        days = conn.execute(text("SELECT count(*) FROM purchase_days")).scalar()
        vacuumed = conn.execute(
            text("SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'purchase_days'")
        ).scalar()
    if force or not days:
        session = make_sessionmaker(engine)()
        started = time.perf_counter()
        rows = rollup.rebuild(session)
        session.commit()
        session.close()
        print(f"daily totals rebuilt: {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    if force or not days or not vacuumed:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
        print("vacuumed and analyzed", flush=True)


def _reference_data(session) -> dict:
    from portal import ledger
    from portal.auth import services
    from portal.cards.models import Card
    from portal.customers.models import Customer
    from portal.drivers.models import Driver, Vehicle
    from portal.reference.models import Product, Region, Station

    regions = [Region(code=f"{11 + i}", name_zh=f"地区{i}", name_en=f"Region {i}") for i in range(31)]
    session.add_all(regions)
    session.add_all(
        Product(code=c, kind="diesel" if c == "0" else "gasoline", name_zh=f"{c}号", name_en=f"{c}#") for c in PRODUCTS
    )
    session.flush()
    stations = [
        Station(code=f"B{i:04d}", name=f"加油站{i}", region_id=regions[i % 31].id, city="城市") for i in range(300)
    ]
    session.add_all(stations)
    customer = Customer(name="基准物流", credit_code="91110000BENCH0001", region_id=regions[0].id)
    session.add(customer)
    session.flush()
    drivers = [Driver(customer_id=customer.id, name=f"司机{i}") for i in range(CARDS)]
    vehicles = [Vehicle(customer_id=customer.id, plate=f"京B{i:05d}", tank_ml=60000) for i in range(CARDS)]
    session.add_all(drivers + vehicles)
    session.flush()
    ledger.open_customer_accounts(session, customer.id)
    session.add(Card(number="9100000000000000", customer_id=customer.id, role="main", expires_on=date(2030, 1, 1)))
    cards = []
    for i in range(CARDS):
        card = Card(
            number=f"91000000{i + 1:08d}",
            customer_id=customer.id,
            role="sub",
            driver_id=drivers[i].id,
            vehicle_id=vehicles[i].id,
            expires_on=date(2030, 1, 1),
        )
        session.add(card)
        cards.append(card)
    session.flush()
    for card in cards:
        ledger.open_card_accounts(session, customer.id, card.id)
    services.create_user(
        session, username="bench_admin", password=PASSWORD, role="admin", rounds=4, now=NOW, customer_id=customer.id
    )
    return {
        "customer": customer.id,
        "cards": [
            (
                c.id,
                d.id,
                v.id,
                v.plate,
                ledger.card_account(session, c.id, "reserve").id,
                ledger.card_account(session, c.id, "purse").id,
            )
            for c, d, v in zip(cards, drivers, vehicles, strict=True)
        ],
        "stations": [(s.id, s.region_id) for s in stations],
        "unit": ledger.unit_account(session, customer.id).id,
        "sales": ledger.system_account(session, "station_sales").id,
        "clearing": ledger.system_account(session, "deposits_clearing").id,
    }


def _month(at: datetime) -> tuple[int, int]:
    local = at + timedelta(hours=8)
    return local.year, local.month


def _bulk(engine, ids: dict, purchases: int) -> None:
    """COPY purchases and their ledger transfers day by day, then the monthly money flows."""
    rng = random.Random(7)
    start = END - timedelta(days=DAYS)
    per_day = purchases / DAYS
    spent: dict[tuple[int, tuple[int, int]], int] = {}
    pid = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        purchase_cols = (
            "id, kind, status, decline_code, source, customer_id, card_id, driver_id, vehicle_id, plate, "
            "station_id, region_id, product_code, litres_ml, unit_price_fen, amount_fen, points, "
            "odometer_km, transfer_id, at, received_at"
        )
        transfer_cols = "id, ledger, debit_account_id, credit_account_id, amount, code, kind, memo, created_at"
        for day in range(DAYS):
            n = int(per_day * (day + 1)) - int(per_day * day)
            if day == DAYS - 1:
                n = purchases - pid
            base = start + timedelta(days=day)
            offsets = sorted(rng.randrange(86_400_000_000) for _ in range(n))
            p_rows, t_rows = [], []
            for offset in offsets:
                pid += 1
                at = base + timedelta(microseconds=offset)
                card_id, driver_id, vehicle_id, plate, _reserve, purse = ids["cards"][rng.randrange(CARDS)]
                station_id, region_id = ids["stations"][rng.randrange(300)]
                product = rng.choice(("92", "92", "95", "0"))
                price = PRODUCTS[product]
                litres = rng.randrange(10_000, 80_000)
                amount = (litres * price + 500) // 1000
                declined = rng.random() < 0.01
                naive = at.replace(tzinfo=None)
                transfer_id = None if declined else f"p{pid}"
                p_rows.append(
                    (
                        pid,
                        "purchase",
                        "declined" if declined else "approved",
                        "insufficient_balance" if declined else None,
                        "online",
                        ids["customer"],
                        card_id,
                        driver_id,
                        vehicle_id,
                        plate,
                        station_id,
                        region_id,
                        product,
                        litres,
                        price,
                        amount,
                        0 if declined else amount // 100,
                        None,
                        transfer_id,
                        naive,
                        naive,
                    )
                )
                if not declined:
                    t_rows.append((transfer_id, "CNY", purse, ids["sales"], amount, "purchase", "posted", "", naive))
                    key = (card_id, _month(at))
                    spent[key] = spent.get(key, 0) + amount
            with cur.copy(f"COPY purchases ({purchase_cols}) FROM STDIN") as copy:
                for row in p_rows:
                    copy.write_row(row)
            with cur.copy(f"COPY ledger_transfers ({transfer_cols}) FROM STDIN") as copy:
                for row in t_rows:
                    copy.write_row(row)
            if day % 60 == 0:
                raw.commit()
                print(f"  day {day}/{DAYS}: {pid:,} purchases", flush=True)
        raw.commit()
        _money_flows(cur, ids, spent)
        cur.execute("SELECT setval(pg_get_serial_sequence('purchases', 'id'), %s)", (pid,))
        # Totals from the journal: what the ledger services would have kept.
        cur.execute("""
            UPDATE ledger_accounts a SET
              debits_posted = coalesce((SELECT sum(amount) FROM ledger_transfers t
                                        WHERE t.debit_account_id = a.id AND t.kind IN ('posted', 'post_pending')), 0),
              credits_posted = coalesce((SELECT sum(amount) FROM ledger_transfers t
                                         WHERE t.credit_account_id = a.id AND t.kind IN ('posted', 'post_pending')), 0)
        """)
        raw.commit()
    finally:
        raw.close()


def _money_flows(cur, ids: dict, spent: dict) -> None:
    """Each month: a deposit covering the month, then per card an allocation and a load of what the
    card will spend that month plus 100 yuan, at the month's first minute (before any purchase)."""
    months = sorted({month for _, month in spent})
    by_card = {c[0]: c for c in ids["cards"]}
    rows = []
    for year, month in months:
        first = datetime(year, month, 1, tzinfo=UTC) - timedelta(hours=8)
        need = {card: amount + 100_00 for (card, m), amount in spent.items() if m == (year, month)}
        stamp = first.replace(tzinfo=None)
        rows.append(
            (
                f"d{year}{month:02d}",
                "CNY",
                ids["clearing"],
                ids["unit"],
                sum(need.values()),
                "deposit",
                "posted",
                "bank",
                stamp,
            )
        )
        for card, amount in need.items():
            _card, _d, _v, _p, reserve, purse = by_card[card]
            rows.append(
                (
                    f"a{year}{month:02d}-{card}",
                    "CNY",
                    ids["unit"],
                    reserve,
                    amount,
                    "allocation",
                    "posted",
                    "",
                    stamp + timedelta(seconds=1),
                )
            )
            rows.append(
                (
                    f"l{year}{month:02d}-{card}",
                    "CNY",
                    reserve,
                    purse,
                    amount,
                    "load",
                    "posted",
                    "",
                    stamp + timedelta(seconds=2),
                )
            )
    # Loads are written as plain posted transfers (the two-phase hold is the cards area's concern).
    with cur.copy(
        "COPY ledger_transfers (id, ledger, debit_account_id, credit_account_id, amount, code, kind, memo, "
        "created_at) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def measure(url: str, repeat: int, freeze: bool = True) -> dict:
    from sqlalchemy import text

    from portal import create_app
    from portal.clock import FrozenClock
    from portal.extensions import db
    from portal.queries.cursor import Key, encode_cursor

    def signed_in_client(rollup: bool):
        app = create_app(
            "testing", DATABASE_URL=url, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False, PURCHASE_ROLLUP=rollup
        )
        app.extensions["portal.clock"] = FrozenClock(NOW)
        client = app.test_client()
        response = client.post("/auth/sign-in", data={"username": "bench_admin", "password": PASSWORD})
        assert response.status_code == 302, response.status_code
        return app, client

    # The app as configured once the purchase side keeps the daily totals; and without them, for
    # comparison (the `*_raw_*` figures).
    app, client = signed_in_client(True)
    _raw_app, raw_client = signed_in_client(False)
    if freeze:
        # As a production server should after start-up (e.g. gunicorn's post_fork): the start-up
        # objects leave the collector's view, so a full collection no longer walks the whole app
        # (~100 ms, landing on whichever request triggers it).
        gc.collect()
        gc.freeze()
    with app.app_context():
        session = db.session
        count = session.execute(text("SELECT count(*) FROM purchases")).scalar()
        card_number, card_id = session.execute(
            text("SELECT number, id FROM cards WHERE role = 'sub' ORDER BY id LIMIT 1 OFFSET 123")
        ).one()
        deep_start, deep_end = date(2025, 4, 1), date(2026, 3, 31)
        lo, hi = (datetime(2025, 3, 31, 16), datetime(2026, 3, 31, 16))
        # A key ~90% of the way through a year of history, as following "next" links would reach it.
        deep_at, deep_id = session.execute(
            text(
                "SELECT at, id FROM purchases WHERE customer_id = 1 AND status = 'approved' AND at >= :lo AND at < :hi "
                "ORDER BY at DESC, id DESC OFFSET :n LIMIT 1"
            ),
            {"lo": lo, "hi": hi, "n": int(count * 0.45)},
        ).one()
    deep_args = f"preset=custom&start={deep_start}&end={deep_end}"
    first = client.get(f"/queries/purchases?{deep_args}")  # page 1 computes the totals the cursor carries
    assert first.status_code == 200
    import re

    next_link = re.search(r'href="[^"]*cursor=([^"&]+)', first.get_data(as_text=True))
    with app.app_context():
        from portal.queries.cursor import decode_cursor

        carried = decode_cursor(next_link.group(1), secret=app.config["SECRET_KEY"], report="purchases").totals
        deep_cursor = encode_cursor(
            Key(deep_at.replace(tzinfo=UTC), deep_id, carried), secret=app.config["SECRET_KEY"], report="purchases"
        )

    stats_12m = "/statistics/transactions?preset=custom&start=2025-04-01&end=2026-03-31&group=month"
    cases = {
        "first_page": "/queries/purchases",
        "filtered": f"/queries/purchases?card={card_number}&preset=custom&start=2025-11-01&end=2025-11-30",
        "deep_page": f"/queries/purchases?{deep_args}&cursor={deep_cursor}",
        "stats_12m": stats_12m,
        "stats_12m_by_day": "/statistics/transactions?preset=custom&start=2025-04-01&end=2026-03-31&group=day",
        "stats_12m_by_card": "/statistics/transactions?preset=custom&start=2025-04-01&end=2026-03-31&group=card",
        "first_page_raw": "/queries/purchases",
        "stats_12m_raw": stats_12m,
    }
    results = {}
    for name, path in cases.items():
        samples, cpu = [], []
        for i in range(repeat + 2):
            began, began_cpu = time.perf_counter(), time.process_time()
            response = (raw_client if name.endswith("_raw") else client).get(path)
            response.get_data()
            elapsed = (time.perf_counter() - began) * 1000
            assert response.status_code == 200, (name, response.status_code)
            if i >= 2:  # two warm-up requests
                samples.append(elapsed)
                cpu.append((time.process_time() - began_cpu) * 1000)
        p50, p95 = _percentiles(samples)
        results[name] = (p50, p95, statistics.median(cpu))
        # The app's own CPU per request (not PostgreSQL's): what other processes' load cannot inflate much.
        print(f"{name:18s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  (app CPU p50 {results[name][2]:5.1f} ms)", flush=True)

    # Export: a range holding about 100,000 rows (~73 days at 1M / 730 days).
    export_path = "/queries/purchases/export.csv?preset=custom&start=2026-01-18&end=2026-03-31"
    began = time.perf_counter()
    response = client.get(export_path)
    rows = -1
    size = 0
    for chunk in response.response:
        rows += chunk.count(b"\n")
        size += len(chunk)
    response.close()
    seconds = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"export            {rows:,} rows in {seconds:.2f} s = {rows / seconds:,.0f} rows/s, "
        f"{size / 1e6:.1f} MB, peak RSS {peak_mb:.0f} MB",
        flush=True,
    )
    return {
        "purchases": count,
        "cards": CARDS,
        "repeat": repeat,
        "first_page_p50_ms": round(results["first_page"][0], 1),
        "first_page_p95_ms": round(results["first_page"][1], 1),
        "filtered_p50_ms": round(results["filtered"][0], 1),
        "filtered_p95_ms": round(results["filtered"][1], 1),
        "deep_page_p50_ms": round(results["deep_page"][0], 1),
        "deep_page_p95_ms": round(results["deep_page"][1], 1),
        "stats_12m_p50_ms": round(results["stats_12m"][0], 1),
        "stats_12m_p95_ms": round(results["stats_12m"][1], 1),
        "stats_12m_by_day_p95_ms": round(results["stats_12m_by_day"][1], 1),
        "stats_12m_by_card_p95_ms": round(results["stats_12m_by_card"][1], 1),
        "first_page_raw_p95_ms": round(results["first_page_raw"][1], 1),
        "stats_12m_raw_p95_ms": round(results["stats_12m_raw"][1], 1),
        "first_page_cpu_p50_ms": round(results["first_page"][2], 1),
        "filtered_cpu_p50_ms": round(results["filtered"][2], 1),
        "deep_page_cpu_p50_ms": round(results["deep_page"][2], 1),
        "stats_12m_cpu_p50_ms": round(results["stats_12m"][2], 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "gc_freeze": freeze,
        "export_rows": rows,
        "export_rows_per_s": round(rows / seconds),
        "export_peak_rss_mb": round(peak_mb, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--purchases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--no-gc-freeze", action="store_true", help="measure without gc.freeze() after start-up")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_only:
        print(json.dumps(measure(args.database_url, args.repeat, freeze=not args.no_gc_freeze)))
        return
    build(args.database_url, args.purchases, args.rebuild)
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--database-url",
            args.database_url,
            "--repeat",
            str(args.repeat),
            "--measure-only",
            *(["--no-gc-freeze"] if args.no_gc_freeze else []),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = child.stdout.strip().splitlines()
    print("\n".join(lines[:-1]))
    if child.returncode != 0:
        print(child.stderr, file=sys.stderr)
        sys.exit(child.returncode)
    print(lines[-1])


if __name__ == "__main__":
    main()
