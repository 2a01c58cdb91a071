"""gunicorn.conf.py, served for real: two workers, the access log in JSON with the request id and no
reset-link token, and /metrics adding up both workers (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import json
import os
import runpy
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, **headers) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (a local test server)
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.fixture
def served(db_engine, database_url, tmp_path):
    """The portal under gunicorn with gunicorn.conf.py, on a free port; its stdout (the access log)."""
    port = _free_port()
    env = {
        **os.environ,
        "PORTAL_ENV": "testing",
        "DATABASE_URL": database_url,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    out = (tmp_path / "stdout").open("w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "portal:create_app()"],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if _get(base + "/healthz")[0] == 200:
                break
        except OSError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
        time.sleep(0.2)
    yield base, tmp_path / "stdout"
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    out.close()


def test_gunicorn_conf_serves_with_access_log_and_shared_metrics(served):
    base, stdout = served
    for n in range(20):
        status, headers, _ = _get(base + "/healthz", **{"X-Request-ID": f"probe-{n:04d}-abcd"})
        assert status == 200 and headers["X-Request-ID"] == f"probe-{n:04d}-abcd"
    assert _get(base + "/auth/reset/SECRET-RESET-TOKEN-123")[0] in (200, 404)
    status, _, text = _get(base + "/metrics")
    assert status == 200
    # 20 probes, plus the ones made while waiting for the start: all of them, whichever worker answered.
    counts = [
        line
        for line in text.splitlines()
        if line.startswith('portal_request_duration_seconds_count{endpoint="ops.healthz"')
    ]
    assert len(counts) == 1 and float(counts[0].rsplit(" ", 1)[1]) >= 21, counts

    log = stdout.read_text()
    assert "SECRET-RESET-TOKEN-123" not in log
    access = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    probe = [record for record in access if "request_id=probe-0007-abcd" in record["message"]]
    assert (
        len(probe) == 1
        and probe[0]["logger"] == "gunicorn.access"
        and '"GET /healthz HTTP/1.1" 200' in probe[0]["message"]
    )
    assert any("/auth/reset/***" in record["message"] for record in access)


#: The variables gunicorn.conf.py may read, cleared so the developer's environment does not leak in.
_READ = ("LOG_FORMAT", "LOG_LEVEL", "PROXY_COUNT", "FORWARDED_ALLOW_IPS", "GUNICORN_BIND", "PORTAL_ENV")


def _conf(monkeypatch, tmp_path, dotenv: str, **environ) -> dict:
    """gunicorn.conf.py's settings as gunicorn reads them, run in a folder holding `dotenv` as .env."""
    for name in list(os.environ):
        if name.startswith("PORTAL_") or name in _READ:
            monkeypatch.delenv(name)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))  # not this process's mode
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    (tmp_path / ".env").write_text(dotenv)
    monkeypatch.chdir(tmp_path)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_conf_reads_the_apps_settings_as_the_app_does(monkeypatch, tmp_path):
    """PORTAL_ names and .env count for gunicorn's log format, level and proxies, as for the app."""
    dotenv = "PORTAL_LOG_FORMAT=text\nPORTAL_PROXY_COUNT=1\nLOG_LEVEL=WARNING\nGUNICORN_BIND=127.0.0.1:8123\n"
    conf = _conf(monkeypatch, tmp_path, dotenv)
    assert conf["logconfig_dict"]["formatters"]["portal"]["()"] == "portal.ops.logs.RedactingTextFormatter"
    assert (conf["loglevel"], conf["forwarded_allow_ips"], conf["bind"]) == (
        "warning",
        "127.0.0.1,::1",
        "127.0.0.1:8123",
    )


def test_gunicorn_conf_environment_wins_over_dotenv(monkeypatch, tmp_path):
    conf = _conf(monkeypatch, tmp_path, "LOG_FORMAT=text\nPROXY_COUNT=1\n", PORTAL_LOG_FORMAT="json", PROXY_COUNT="0")
    assert conf["logconfig_dict"]["formatters"]["portal"]["()"] == "portal.ops.logs.PortalJsonFormatter"
    assert conf["forwarded_allow_ips"] == ""


def test_gunicorn_conf_refuses_what_the_app_refuses(monkeypatch, tmp_path):
    """A typo in a PORTAL_ name, or production without its settings, stops gunicorn before any worker."""
    with pytest.raises(ConfigError, match="PORTAL_LOG_FORMT is not a setting"):
        _conf(monkeypatch, tmp_path, "PORTAL_LOG_FORMT=text\n")
    with pytest.raises(ConfigError, match="production refuses to start"):
        _conf(monkeypatch, tmp_path, "", PORTAL_ENV="production")
