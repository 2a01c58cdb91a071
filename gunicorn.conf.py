"""gunicorn settings for the portal: `gunicorn -c gunicorn.conf.py 'portal:create_app()'`.

Everything can be changed from the environment without editing this file:

- GUNICORN_BIND (default 127.0.0.1:8000: nginx in front), WEB_CONCURRENCY (workers, default 2 per
  core + 1), GUNICORN_TIMEOUT (seconds a request may take before its worker is replaced, default 30).
- PROXY_COUNT (as for the app): with proxies in front, gunicorn believes X-Forwarded-Proto only from
  FORWARDED_ALLOW_IPS (default the loopback proxy); with none, from nobody.
- LOG_FORMAT ("json" default, or "text") and LOG_LEVEL, as for the app: gunicorn's own lines and its
  access log (on, to stdout, with the request id and the time taken) are written like the app's,
  redacted the same way (a password-reset link's token never reaches the access log).
- PROMETHEUS_MULTIPROC_DIR: where the workers (and the jobs process, given the same directory) keep
  their metrics so that a scrape of any worker adds them all up (prometheus_client's multiprocess
  mode); default a fresh directory under /tmp. Emptied when gunicorn starts.
"""

import multiprocessing
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # portal.ops.logs, also before `pip install .`

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
#: Each worker is replaced after about this many requests (jitter: not all at once), so a slow leak
#: in a library cannot grow without bound.
max_requests = 1000
max_requests_jitter = 100

#: With proxies in front (PROXY_COUNT, as the app reads it; the app's ProxyFix handles the client
#: address), gunicorn believes the scheme they send only from them; with none, from nobody.
forwarded_allow_ips = (
    os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
    if int(os.environ.get("PROXY_COUNT", "1" if os.environ.get("PORTAL_ENV") == "production" else "0"))
    else ""
)

#: gunicorn's control socket (`gunicornc`) is not used; one fixed path would be shared by every
#: instance on the host.
control_socket_disable = True

accesslog = "-"
#: The combined format, plus the time taken and the request id the app answered with.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms request_id=%({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

_FORMATTER = (
    {"()": "portal.ops.logs.RedactingTextFormatter", "format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    if os.environ.get("LOG_FORMAT", "json") == "text"
    else {"()": "portal.ops.logs.PortalJsonFormatter"}
)
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"portal": _FORMATTER},
    "handlers": {
        "access": {"class": "logging.StreamHandler", "formatter": "portal", "stream": "ext://sys.stdout"},
        "error": {"class": "logging.StreamHandler", "formatter": "portal", "stream": "ext://sys.stderr"},
    },
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
    "root": {"level": "INFO", "handlers": []},  # the app installs its own (portal.ops.logs.configure)
}

# Set before any worker imports prometheus_client (workers are forked after this file is read).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="portal-metrics-"))


def on_starting(server):
    """Empty the metrics directory: counters start from zero with the server (Prometheus expects resets)."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A worker's metrics files stay (its counts still count); only its live gauges are dropped."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
