"""Backup restore drill: a backup is only as good as a restore that was checked.

Builds demo data in a fresh PostgreSQL database (`flask --app portal db upgrade` + `demo-data`),
dumps it with `pg_dump -Fc` (the nightly backup's format), restores it with `pg_restore` into
another fresh database, runs `flask --app portal ledger verify` on the restored copy, and compares
every ledger account's balance (and available amount, and raw totals) and the row count of every
table between the two. Exits 1 on any difference.

    .venv/bin/python deploy/restore_drill.py                 # creates and drops its two databases
    .venv/bin/python deploy/restore_drill.py --corrupt       # alters one row of the copy: must exit 1
    .venv/bin/python deploy/restore_drill.py --self-test     # the drill, then --corrupt's check, both must hold
    .venv/bin/python deploy/restore_drill.py --source-url URL --target-url URL   # two empty databases (CI)

`make restore-drill` runs it with --self-test; CI runs that after `make test`. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

import portal.models  # noqa: E402,F401  (every table on Base.metadata)
from portal.db import Base  # noqa: E402
from portal.ledger import available, balance  # noqa: E402
from portal.ledger.models import Account  # noqa: E402

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with databases(args) as (source, target):
        build_source(source, args)
        restore(source, target)
        if args.corrupt:
            corrupt(target)
        problems = check(source, target)
        caught = None
        if args.self_test and not problems:
            corrupt(target)
            caught = bool(check(source, target, quiet=True))
            print(f"self-test: one altered row in the restored copy was {'caught' if caught else 'NOT caught'}")
    ok = not problems and caught is not False
    for line in problems:
        print(f"DIFFERENCE: {line}")
    print("restore drill:", "passed" if ok else "FAILED")
    summary = {"ok": ok, "differences": len(problems), "self_test_caught": caught, "corrupted": args.corrupt}
    summary["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(summary))
    return 0 if ok else 1


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source-url", default=os.environ.get("DRILL_SOURCE_URL"), help="an empty database")
    parser.add_argument("--target-url", default=os.environ.get("DRILL_TARGET_URL"), help="another empty one")
    parser.add_argument("--server-url", default=DEFAULT_SERVER, help="where to create the two databases otherwise")
    parser.add_argument("--name-prefix", default="portal_drill", help="of the databases created here")
    parser.add_argument("--corrupt", action="store_true", help="alter one row of the restored copy (must fail)")
    parser.add_argument("--self-test", action="store_true", help="after passing, show an altered row is caught")
    parser.add_argument("--customers", type=int, default=2)
    parser.add_argument("--months", type=int, default=2)
    args = parser.parse_args(argv)
    if bool(args.source_url) != bool(args.target_url):
        parser.error("give both --source-url and --target-url, or neither")
    return args


class databases:
    """The two databases: given (left as they are afterwards), or created here and dropped after."""

    def __init__(self, args):
        self.args = args
        self.created: list[str] = []

    def __enter__(self):
        if self.args.source_url:
            return self.args.source_url, self.args.target_url
        base = f"{self.args.name_prefix}_{os.getpid()}_{int(time.time())}"
        urls = []
        for suffix in ("source", "restored"):
            name = f"{base}_{suffix}"
            self._admin(f"CREATE DATABASE {name}")
            self.created.append(name)
            urls.append(with_database(self.args.server_url, name))
        return tuple(urls)

    def __exit__(self, *exc):
        for name in self.created:
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _admin(self, statement: str) -> None:
        engine = create_engine(self.args.server_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(statement))
        engine.dispose()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump/pg_restore/psql take it (no +driver)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def flask(url: str, *command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PORTAL_ENV": "development", "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "portal", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def must(result: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"{what} failed (exit {result.returncode})")
    return result


def build_source(url: str, args) -> None:
    print("== migrations and demo data in the source database")
    started = time.monotonic()
    must(flask(url, "db", "upgrade"), "flask db upgrade")
    migrated = time.monotonic()
    demo = ["demo-data", "--fast", "--customers", str(args.customers), "--months", str(args.months)]
    must(flask(url, *demo), "flask demo-data")
    print(f"   migrations {migrated - started:.1f} s, demo data {time.monotonic() - migrated:.1f} s")


def restore(source: str, target: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        dump = Path(folder) / "portal.dump"
        print("== pg_dump -Fc, then pg_restore into a fresh database")
        must(
            subprocess.run(["pg_dump", "-Fc", "-f", str(dump), libpq(source)], capture_output=True, text=True),
            "pg_dump",
        )
        print(f"   dump: {dump.stat().st_size:,} bytes")
        restored = subprocess.run(
            ["pg_restore", "--exit-on-error", "--no-owner", "-d", libpq(target), str(dump)],
            capture_output=True,
            text=True,
        )
        must(restored, "pg_restore")


def corrupt(target: str) -> None:
    """One row of the restored copy altered: one fen more on the first customer account."""
    engine = create_engine(target)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE ledger_accounts SET credits_posted = credits_posted + 1 "
                "WHERE id = (SELECT min(id) FROM ledger_accounts WHERE customer_id IS NOT NULL)"
            )
        )
    engine.dispose()
    print("== corrupted: one fen added to one account of the restored copy")


def check(source: str, target: str, quiet: bool = False) -> list[str]:
    """Every difference found: ledger verify on the copy, balances, row counts."""
    problems = []
    verify = flask(target, "ledger", "verify")
    if not quiet:
        print("== ledger verify on the restored copy:", "ok" if verify.returncode == 0 else "FAILED")
    if verify.returncode != 0:
        problems.append(f"ledger verify failed on the restored copy: {verify.stdout.strip()[-300:]}")
    before, after = snapshot(source), snapshot(target)
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            problems.append(f"{key}: {before.get(key)} before, {after.get(key)} after the restore")
    if not quiet:
        accounts = sum(1 for key in before if key.startswith("account "))
        tables = sum(1 for key in before if key.startswith("rows in "))
        print(f"== compared {accounts} accounts' balances and {tables} tables' row counts")
    return problems


def snapshot(url: str) -> dict[str, object]:
    """account N -> (balance, available, totals); rows in T -> count, for every table."""
    engine = create_engine(url)
    facts: dict[str, object] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            facts[f"rows in {table.name}"] = conn.execute(select(func.count()).select_from(table)).scalar_one()
        for account in conn.execute(select(Account.__table__)).all():
            totals = (account.debits_posted, account.credits_posted, account.debits_pending, account.credits_pending)
            facts[f"account {account.id}"] = (balance(account), available(account), totals)
    engine.dispose()
    return facts


if __name__ == "__main__":
    sys.exit(main())
