"""Soak test (issue 14, "a crash test of the project's own"): the portal served by gunicorn on
PostgreSQL, concurrent clients moving money through the terminal API and the real web forms, with
workers and database connections killed at random; then the books are checked.

    .venv/bin/python bench/soak.py [--seconds 60] [--clients 6] [--workers 3] [--seed 1]
                                   [--database-url URL] [--self-test] [--inject-fault KIND]

- The world: one fleet customer (admin `soak_admin`, support staff `soak_staff`, password
  `Soak#2026-pass`), funded sub-cards, one terminal with its key at each of three stations.
- Clients (threads): terminals send purchases and refunds under their own sequence numbers (the
  idempotency key); the fleet admin allocates and collects (preview, then confirm with the
  preview's batch id), and requests chip loads (the form's hidden key); the staff member records
  deposits (the form's hidden key: previewed, then confirmed with the password). Forms are read like
  a browser does: CSRF token and keys from the HTML, cookies kept. About one operation in five is sent twice at once (two connections, one
  key); most that get no answer (connection lost, 5xx, 503) are retried with the same key, the
  rest stay unknown (in the books once or not at all).
- Chaos: every few seconds a gunicorn worker is SIGKILLed (gunicorn starts another) or every
  database connection of the app is terminated (`pg_terminate_backend`).
- Then bench/soak_checker.py holds what the clients were told against the books.

`--self-test` then injects each kind of bad row in turn (rolled back afterwards) and fails unless
the checker catches every one; `--inject-fault KIND` injects one and reports the checker's verdict
(it must fail: exit 1). The database ($SOAK_DATABASE_URL or --database-url; default portal_soak) is
created if missing and rebuilt from the migrations. Exit 0 only when the books check out (and, with
--self-test, every injected fault was caught). The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import logging
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from html import unescape
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench._common import free_port, rebuild_database, serve  # noqa: E402
from bench.soak_checker import FAULTS, KINDS, Attempt, Operation, check, inject, outcome_of  # noqa: E402
from portal import ledger  # noqa: E402
from portal.auth.services import create_user  # noqa: E402
from portal.cards.models import Card  # noqa: E402
from portal.clock import utcnow  # noqa: E402
from portal.customers.models import Customer  # noqa: E402
from portal.db import make_engine, make_sessionmaker  # noqa: E402
from portal.reference.models import Product, Region, Station  # noqa: E402
from portal.stations.terminals import create_terminal  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_soak"
PASSWORD = "Soak#2026-pass"
ADMIN, STAFF = "soak_admin", "soak_staff"
CARDS = 24
#: Each card starts with this much on its reserve and on its chip purse (fen); the unit account more.
CARD_FUNDS, UNIT_FUNDS = 10_000_00, 1_000_000_00
#: Share of operations sent twice at once; share of those that got no answer retried, and how often
#: (the others stay unknown: the checker then accepts them in the books once or not at all).
DUPLICATE_RATE, RETRY_RATE, RETRIES = 0.2, 0.7, 3
#: Seconds a request may take (a killed worker's connection is reset long before).
TIMEOUT = 30
#: Client roles, dealt round-robin: most traffic is terminals, then the fleet admin, then staff.
ROLES = ("terminal", "admin", "terminal", "staff", "terminal", "admin")


@dataclass
class World:
    terminals: list[tuple[int, str]]  # (terminal id, API key), one per station
    cards: list[str]


def build_world(url: str) -> World:
    """A fresh database: one customer with funded cards, its admin, a staff member, three terminals."""
    rebuild_database(url)
    engine = make_engine(url)
    now = utcnow()
    with make_sessionmaker(engine)() as session:
        region = Region(code="11", name_zh="北京", name_en="Beijing")
        session.add(region)
        session.add(Product(code="92", kind="gasoline", name_zh="92#汽油", name_en="92# gasoline"))
        session.flush()
        stations = [
            Station(code=f"ST11000{i}", name=f"soak {i}", region_id=region.id, city="北京",
                    lat_e6=39_900_000 + i * 10_000, lon_e6=116_400_000)
            for i in (1, 2, 3)
        ]  # fmt: skip
        customer = Customer(name="soak fleet", credit_code="911100000000000SOK", region_id=region.id)
        session.add_all([*stations, customer])
        session.flush()
        numbers = _fund_cards(session, customer.id, now)
        create_user(session, username=ADMIN, password=PASSWORD, role="admin", rounds=4, now=now,
                    customer_id=customer.id)  # fmt: skip
        create_user(session, username=STAFF, password=PASSWORD, role="staff", rounds=4, now=now, region_id=region.id)
        terminals = [create_terminal(session, station, "soak pump", now=now) for station in stations]
        session.commit()
        world = World([(terminal.id, key) for terminal, key in terminals], numbers)
    engine.dispose()
    return world


def _fund_cards(session, customer_id: int, now) -> list[str]:
    """CARDS sub-cards, each with CARD_FUNDS on its reserve and on its purse; set-up transfer ids
    start with "soak-setup:" (the checker knows them)."""
    ledger.open_customer_accounts(session, customer_id)
    clearing = ledger.system_account(session, "deposits_clearing")
    unit = ledger.unit_account(session, customer_id)
    T = ledger.TransferRequest
    ledger.transfer(session, T("soak-setup:deposit", clearing.id, unit.id, UNIT_FUNDS, "deposit"), now=now)
    numbers = []
    for i in range(CARDS):
        number = f"90301100{i:08d}"
        card = Card(number=number, customer_id=customer_id, role="sub", expires_on=date(2099, 1, 1))
        session.add(card)
        session.flush()
        ledger.open_card_accounts(session, customer_id, card.id)
        reserve = ledger.card_account(session, card.id, "reserve")
        purse = ledger.card_account(session, card.id, "purse")
        ledger.transfer(session, T(f"soak-setup:a{i}", unit.id, reserve.id, 2 * CARD_FUNDS, "allocation"), now=now)
        ledger.transfer(session, T(f"soak-setup:l{i}", reserve.id, purse.id, CARD_FUNDS, "load"), now=now)
        numbers.append(number)
    return numbers


# --- the run's shared state and HTTP --------------------------------------------------------------


@dataclass
class Run:
    port: int
    world: World
    deadline: float
    seed: int
    operations: list[Operation] = field(default_factory=list)
    #: When (time.monotonic()) the app's database connections were terminated, and how many.
    kills: list[tuple[float, int]] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.stats[name] += n

    def http(self, method: str, path: str, body: bytes | None, headers: dict):
        """(status, headers, body text, request id); status None when no answer came. The id goes
        in an X-Soak-Request header: the server names it when it logs an error (see soak_app)."""
        with self.lock:
            self.stats["requests"] += 1
            request_id = str(self.stats["requests"])
        headers = {**headers, "X-Soak-Request": request_id}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            return response.status, response.headers, response.read().decode("utf-8", "replace"), request_id
        except (OSError, http.client.HTTPException):
            return None, {}, "", request_id
        finally:
            conn.close()

    def send(self, op: Operation, fire, rng: random.Random) -> Operation:
        """Send `op` once, or twice at once; mostly retry with the same key while nothing answered."""
        op.duplicate = rng.random() < DUPLICATE_RATE
        self.operations.append(op)
        op.attempts += _at_once(fire) if op.duplicate else [fire()]
        for _ in range(RETRIES if rng.random() < RETRY_RATE else 0):
            if any(a.success for a in op.attempts) or not any(_no_answer(a) for a in op.attempts[-2:]):
                break
            time.sleep(0.3)
            op.attempts.append(fire())
        return op


def _no_answer(attempt: Attempt) -> bool:
    return attempt.status is None or attempt.status >= 500


def _at_once(fire) -> list[Attempt]:
    """`fire` on two threads released together: two connections, the same key."""
    barrier, results = threading.Barrier(2), [None, None]

    def one(i: int) -> None:
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        results[i] = fire()

    threads = [threading.Thread(target=one, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for attempt in results:
        attempt.paired = True
    return results


class Browser:
    """One signed-in person: cookies kept as a browser keeps them, forms read from the HTML."""

    def __init__(self, run: Run):
        self.run, self.cookies, self.lock = run, {}, threading.Lock()

    def request(self, method: str, path: str, form: dict | None = None):
        with self.lock:
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        status, response_headers, html, request_id = self.run.http(method, path, body, headers)
        for cookie in (response_headers.get_all("Set-Cookie") if status else None) or []:
            name, _, rest = cookie.partition("=")
            with self.lock:
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return status, response_headers, html, request_id

    def post(self, path: str, form: dict, done: str) -> Attempt:
        """POST a form; success is a redirect to the path `done` (a pattern)."""
        status, headers, _html, request_id = self.request("POST", path, form)
        where = urlsplit(headers.get("Location", "")).path if status in (302, 303) else ""
        answer = (status, where) if where else (status,)
        success = bool(where and re.fullmatch(done, where))
        return Attempt(status, answer, time.monotonic(), success=success, request_id=request_id)

    def sign_in(self, username: str) -> bool:
        for _ in range(10):
            status, _headers, html, _id = self.request("GET", "/auth/sign-in")
            if status == 200:
                form = {"csrf_token": hidden(html, "csrf_token"), "region": "11", "username": username,
                        "password": PASSWORD}  # fmt: skip
                if self.request("POST", "/auth/sign-in", form)[0] == 302:
                    return True
            if not self.run.running():
                return False
            time.sleep(0.5)
        return False


def hidden(html: str, name: str) -> str:
    """The value of the form input named `name` ("" if there is none)."""
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0)) if tag else None
    return unescape(value.group(1)) if value else ""


def options(html: str, name: str) -> list[str]:
    """The option values of the select named `name`."""
    select = re.search(rf'<select[^>]*\bname="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    return re.findall(r'<option[^>]*\bvalue="([^"]*)"', select.group(1)) if select else []


# --- clients -------------------------------------------------------------------------------------


def terminal_client(run: Run, index: int) -> None:
    """Purchases at random cards and stations; now and then a refund of one this client bought."""
    rng = random.Random(run.seed * 1000 + index)
    sequence = itertools.count(index * 10**9 + 1)
    refundable: list[tuple[int, int, int]] = []  # (station index, purchase id, amount)
    while run.running():
        station = rng.randrange(len(run.world.terminals))
        terminal_id, key = run.world.terminals[station]
        seq = next(sequence)
        mine = [r for r in refundable if r[0] == station]
        if mine and rng.random() < 0.3:
            _station, purchase_id, amount = refundable.pop(refundable.index(rng.choice(mine)))
            op = Operation("refund", f"{terminal_id}:{seq}", amount, refund_of=purchase_id)
            body = {"purchase_id": purchase_id, "terminal_seq": seq}
        else:
            litres = rng.randint(1_000, 5_000)
            body = {"card_number": rng.choice(run.world.cards), "product_code": "92", "litres_ml": litres,
                    "unit_price_fen": 750, "amount_fen": litres * 750 // 1000, "terminal_seq": seq,
                    "at": utcnow().isoformat()}  # fmt: skip
            op = Operation("purchase", f"{terminal_id}:{seq}", body["amount_fen"])
        path = "/api/terminal/v1/" + ("refunds" if op.kind == "refund" else "purchases")
        run.send(op, partial(_terminal_call, run, key, path, body), rng)
        approved = [a.answer for a in op.attempts if a.success and a.answer[1]]
        if op.kind == "purchase" and approved:
            refundable.append((station, approved[0][2], op.amount))


def _terminal_call(run: Run, key: str, path: str, body: dict) -> Attempt:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    status, _headers, payload, request_id = run.http("POST", path, json.dumps(body).encode(), headers)
    at = time.monotonic()
    try:
        data = json.loads(payload) if status else {}
    except ValueError:
        data = {}
    if status == 200 and "purchase_id" in data:
        answer = (status, data["approved"], data["purchase_id"], data["code"])
        return Attempt(status, answer, at, success=True, request_id=request_id)
    return Attempt(status, (status, (data.get("error") or {}).get("code")), at, request_id=request_id)


def admin_client(run: Run, index: int) -> None:
    """The fleet admin: allocations and collections (preview, then confirm), chip load requests."""
    rng = random.Random(run.seed * 1000 + index)
    browser = Browser(run)
    if not browser.sign_in(ADMIN):
        run.count("sign_in_failures")
        return
    while run.running():
        pick = rng.random()
        if pick < 0.4:
            _funds_batch(run, browser, rng, "allocation", "/funds/allocate")
        elif pick < 0.7:
            _funds_batch(run, browser, rng, "collection", "/funds/collect")
        else:
            _chip_load(run, browser, rng)


def _funds_batch(run: Run, browser: Browser, rng: random.Random, kind: str, page: str) -> None:
    status, _headers, html, _id = browser.request("GET", page)
    cards = re.findall(r'<input name="amount-(\d+)"(?![^>]*\bdisabled)[^>]*>', html) if status == 200 else []
    if not cards:
        time.sleep(0.2)
        return
    amounts = {f"amount-{card}": f"{rng.randint(1, 5)}.00" for card in rng.sample(cards, rng.randint(1, 3))}
    form = {"csrf_token": hidden(html, "csrf_token"), "action": "preview", **amounts}
    status, headers, _html, _id = browser.request("POST", page, form)
    if status != 302:  # no preview: nothing was asked of the books yet
        return
    preview = urlsplit(headers["Location"]).path
    status, _headers, html, _id = browser.request("GET", preview)
    confirm = re.search(r'<form method="post" action="([^"]*/confirm)"', html) if status == 200 else None
    if confirm is None:
        return
    total = sum(int(a.split(".")[0]) * 100 for a in amounts.values())
    op = Operation(kind, preview.rsplit("/", 1)[1], total)
    form = {"csrf_token": hidden(html, "csrf_token"), "password": PASSWORD}
    done = re.escape(preview) + "/receipt"
    run.send(op, lambda: browser.post(unescape(confirm.group(1)), form, done), rng)


def _chip_load(run: Run, browser: Browser, rng: random.Random) -> None:
    status, _headers, html, _id = browser.request("GET", "/chips/load")
    cards = options(html, "card_id") if status == 200 else []
    key = hidden(html, "key")
    if not cards or not key:
        time.sleep(0.2)
        return
    yuan = rng.randint(1, 3)
    form = {"csrf_token": hidden(html, "csrf_token"), "key": key, "card_id": rng.choice(cards),
            "amount": f"{yuan}.00", "password": PASSWORD}  # fmt: skip
    op = Operation("load", key, yuan * 100)
    run.send(op, lambda: browser.post("/chips/load", form, "/chips/load"), rng)


def staff_client(run: Run, index: int) -> None:
    """Support staff: deposits into the customer's unit account, each under a new bank reference."""
    rng = random.Random(run.seed * 1000 + index)
    browser = Browser(run)
    if not browser.sign_in(STAFF):
        run.count("sign_in_failures")
        return
    for n in itertools.count(1):
        if not run.running():
            return
        status, _headers, html, _id = browser.request("GET", "/funds/deposits")
        customers = options(html, "customer_id") if status == 200 else []
        key = hidden(html, "key")
        if not customers or not key:
            time.sleep(0.2)
            continue
        yuan = rng.randint(100, 1_000)
        form = {"csrf_token": hidden(html, "csrf_token"), "key": key, "customer_id": customers[0],
                "amount": f"{yuan}.00", "bank_reference": f"SOAK-{run.seed}-{index}-{n}", "memo": "soak"}  # fmt: skip
        # The form only previews (nothing recorded); the preview's form, with the password, records.
        status, _headers, html, _id = browser.request("POST", "/funds/deposits", form)
        if status != 200 or hidden(html, "key") != key:
            time.sleep(0.2)
            continue
        op = Operation("deposit", key, yuan * 100)
        fire = partial(browser.post, "/funds/deposits/confirm", {**form, "password": PASSWORD}, "/funds/deposits")
        run.send(op, fire, rng)


CLIENTS = {"terminal": terminal_client, "admin": admin_client, "staff": staff_client}


# --- chaos ---------------------------------------------------------------------------------------


def chaos(run: Run, gunicorn_pid: int, url: str) -> None:
    """Every 2-6 s, alternately: SIGKILL one gunicorn worker, or terminate the app's database connections."""
    rng = random.Random(run.seed)
    engine = make_engine(url)
    try:
        for n in itertools.count():
            pause = rng.uniform(2, 6)
            if time.monotonic() + pause >= run.deadline - 1:
                return
            time.sleep(pause)
            if n % 2 == 0:
                workers = _children(gunicorn_pid)
                if workers:
                    os.kill(rng.choice(workers), signal.SIGKILL)
                    run.count("workers_killed")
            else:
                at = time.monotonic()
                with engine.connect() as conn:
                    killed = conn.execute(text(TERMINATE)).scalar() or 0
                    conn.commit()
                run.kills.append((at, killed))
                run.count("connection_kills")
                run.count("connections_killed", killed)
    finally:
        engine.dispose()


TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# --- the server ----------------------------------------------------------------------------------


def soak_app():
    """The portal as gunicorn serves it, plus one line on stderr per unhandled error naming the
    request (X-Soak-Request) and whether it was a lost database connection: so a 5xx is put down to
    a kill only when the server says so."""
    from portal import create_app

    app = create_app()
    app.logger.addHandler(_ErrorNote())
    return app


class _ErrorNote(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        from flask import has_request_context, request
        from sqlalchemy.exc import DBAPIError, OperationalError

        if not record.exc_info or not has_request_context() or not str(record.msg).startswith("unhandled error"):
            return
        error = record.exc_info[1]
        lost = isinstance(error, OperationalError) or (isinstance(error, DBAPIError) and error.connection_invalidated)
        sys.stderr.write(f"soak-error {request.headers.get('X-Soak-Request', '-')} {type(error).__name__} {lost}\n")
        sys.stderr.flush()


def server_errors(log_path: str) -> dict[str, bool]:
    """{request id: the error was a lost database connection} from the server's log."""
    errors = {}
    for line in Path(log_path).read_text(errors="replace").splitlines():
        if line.startswith("soak-error "):
            _word, request_id, _name, lost = line.split()
            errors[request_id] = lost == "True"
    return errors


# --- the run -------------------------------------------------------------------------------------


def drive(url: str, world: World, args, log) -> Run:
    """Serve, drive the clients and the chaos for args.seconds, stop everything (also on error)."""
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "RATELIMIT_STORAGE_URI")}
    env.update(DATABASE_URL=url, PORTAL_ENV="development", TERMINAL_REQUEST_LIMIT="1000000 per minute",
               TERMINAL_AUTH_FAILURE_LIMIT="1000000 per minute", LOG_FORMAT="text")  # fmt: skip
    port = free_port()
    server = serve("bench.soak:soak_app()", port, env, workers=args.workers, log=log)
    run = Run(port, world, time.monotonic() + args.seconds, args.seed)
    threads = [threading.Thread(target=chaos, args=(run, server.pid, url), daemon=True)]
    for i in range(args.clients):
        threads.append(threading.Thread(target=CLIENTS[ROLES[i % len(ROLES)]], args=(run, i), daemon=True))
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(run.deadline - time.monotonic(), 0) + 2 * TIMEOUT)
    finally:
        run.deadline = 0  # every loop stops
        server.terminate()
        try:
            server.wait(timeout=30)
        except Exception:  # noqa: BLE001  (TimeoutExpired: stop it hard)
            server.kill()
            server.wait()
    return run


def self_test(url: str, run: Run, baseline, errors: dict[str, bool]) -> dict[str, bool]:
    """Each fault injected in turn (rolled back): caught when the checker finds something new."""
    engine = make_engine(url)
    caught = {}
    try:
        for fault in FAULTS:
            with make_sessionmaker(engine)() as session:
                operations = list(run.operations)
                what = inject(session, fault, operations)
                result = check(session, operations, kills=run.kills, server_errors=errors)
                session.rollback()
            new = [v for v in result.violations if v not in baseline.violations]
            caught[fault] = bool(new)
            print(f"self-test {fault}: {what}: {'CAUGHT' if new else 'NOT CAUGHT'}" + (f": {new[0]}" if new else ""))
    finally:
        engine.dispose()
    return caught


def coverage_problems(run: Run) -> list[str]:
    """A soak that never exercised an operation proves nothing about it: say so."""
    problems = []
    if run.stats["sign_in_failures"]:
        problems.append(f"clients that could not sign in: {run.stats['sign_in_failures']}")
    acknowledged = Counter(op.kind for op in run.operations if outcome_of(op) == "ack")
    missing = [kind for kind in KINDS if not acknowledged[kind]]
    if missing:
        problems.append(f"no acknowledged operation of kind {', '.join(missing)}: the soak did not exercise it")
    return problems


def summarise(run: Run, outcome, seconds: float, log_path: str) -> dict:
    outcomes = Counter(outcome_of(op) for op in run.operations)
    kinds = Counter(f"{op.kind}:{outcome_of(op)}" for op in run.operations)
    print(f"operations: {len(run.operations)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})")
    print(f"chaos: {run.stats['workers_killed']} workers killed, {run.stats['connection_kills']} times the "
          f"app's database connections terminated ({run.stats['connections_killed']} connections)")  # fmt: skip
    errors = Counter()
    for line in Path(log_path).read_text(errors="replace").splitlines():
        if re.match(r"^[\w.]+(Error|Exception|Violation)\b", line):
            errors[line[:160]] += 1
    print(f"server log {log_path}: " + ("; ".join(f"{n}x {e}" for e, n in errors.most_common(5)) or "no exceptions"))
    for violation in outcome.violations:
        print(f"VIOLATION: {violation}")
    print("OK: every acknowledged operation is in the books exactly once" if outcome.ok else "FAILED")
    return {
        "seconds": round(seconds, 1),
        "requests": run.stats["requests"],
        "operations": len(run.operations),
        "acknowledged": outcomes["ack"],
        "refused": outcomes["refused"],
        "unknown": outcomes["unknown"],
        "duplicates_sent": sum(op.duplicate for op in run.operations),
        "duplicate_mismatches": outcome.duplicate_mismatches,
        "unexplained_5xx": outcome.unexplained_5xx,
        "workers_killed": run.stats["workers_killed"],
        "connections_killed": run.stats["connections_killed"],
        "violations": outcome.violations,
        "ok": outcome.ok,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=os.environ.get("SOAK_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--self-test", action="store_true", help="then show the checker catches injected faults")
    parser.add_argument("--inject-fault", choices=FAULTS, help="inject this fault before checking (must fail)")
    args = parser.parse_args()

    world = build_world(args.database_url)
    started = time.monotonic()
    with tempfile.NamedTemporaryFile("w", prefix="soak-gunicorn-", suffix=".log", delete=False) as log:
        run = drive(args.database_url, world, args, log)
    seconds = time.monotonic() - started
    engine = make_engine(args.database_url)
    with make_sessionmaker(engine)() as session:
        operations = list(run.operations)
        if args.inject_fault:
            print(f"injected: {inject(session, args.inject_fault, operations)}")
        outcome = check(session, operations, kills=run.kills, server_errors=server_errors(log.name))
        session.rollback()
    engine.dispose()
    outcome.violations += coverage_problems(run)
    figures = summarise(run, outcome, seconds, log.name)
    status = 0 if outcome.ok else 1
    if args.self_test:
        caught = self_test(args.database_url, run, outcome, server_errors(log.name))
        figures["self_test"] = caught
        status = status or (0 if all(caught.values()) else 2)
    print(json.dumps(figures, ensure_ascii=False))
    return status


if __name__ == "__main__":
    sys.exit(main())
