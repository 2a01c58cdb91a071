#!/usr/bin/env bash
# `pip install .` gives a working portal: builds the wheel, installs it into a fresh virtual
# environment in a temporary folder (the pinned requirements first, from pip's cache after the first
# run, then the wheel with --no-deps), and from another working directory runs the migrations on a
# new SQLite file and fetches the sign-in page (template, compiled zh_CN translation, static file).
# Exits non-zero on any failure. `make wheel-check`; CI runs it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== building the wheel"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/dist" "$repo"
echo "== installing it into a fresh venv ($work/venv)"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo/requirements.txt"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$work"/dist/*.whl

cd "$work"   # not the source tree: nothing may be found relative to it
export PORTAL_ENV=development DATABASE_URL="sqlite:///$work/portal.db"
unset PYTHONPATH
echo "== flask --app portal db upgrade (from $work)"
"$work/venv/bin/flask" --app portal db upgrade
"$work/venv/bin/python" - "$repo" <<'PY'
import sys
from pathlib import Path

import portal
from portal import create_app

repo = Path(sys.argv[1]).resolve()
assert repo not in Path(portal.__file__).resolve().parents, f"portal imported from the source tree: {portal.__file__}"
app = create_app()
client = app.test_client()
page = client.get("/auth/sign-in", headers={"Accept-Language": "zh-CN"})
body = page.get_data(as_text=True)
assert page.status_code == 200, page.status_code
assert "登录" in body, "the sign-in page is not translated: compiled zh_CN catalog missing?"
assert client.get("/static/css/portal.css").status_code == 200, "static files missing"
from sqlalchemy import inspect

tables = inspect(app.extensions["portal.db"][0]).get_table_names()
assert "alembic_version" in tables and "users" in tables, f"migrations did not run: {tables}"
print(f"ok: portal from {Path(portal.__file__).parent}, sign-in page {page.status_code}, {len(body)} bytes")
PY
