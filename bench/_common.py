"""What the benchmarks share: a PostgreSQL database rebuilt from the migrations, a free loopback
port, and the portal (or another WSGI app) served by gunicorn."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import make_url, text  # noqa: E402

from portal.db import make_engine  # noqa: E402
from portal.schema import upgrade  # noqa: E402


def create_database(url: str) -> None:
    """Create the database named by `url` if it is missing (through the server's `postgres` database)."""
    admin = make_engine(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    name = make_url(url).database
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def rebuild_database(url: str) -> None:
    """Create the database named by `url` if it is missing, then rebuild its schema from the migrations."""
    create_database(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    with engine.begin() as conn:
        upgrade(conn)
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app_spec: str, port: int, env: dict, threads: int = 1, workers: int = 2, log=None) -> subprocess.Popen:
    """gunicorn with `workers` sync workers; with threads > 1, gthread workers of that many threads each.
    Its output goes to `log` (a file) when given. Not the deployment's gunicorn.conf.py (gunicorn
    reads it from the working directory): its worker recycling (max_requests) and access log would
    weigh on the trivial anchor far more than on the measured requests."""
    options = ["-w", str(workers)] + (["-k", "gthread", "--threads", str(threads)] if threads > 1 else [])
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "-c",
            "/dev/null",
            *options,
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app_spec,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"gunicorn did not start for {app_spec}")
