"""gunicorn settings for the portal: `gunicorn -c gunicorn.conf.py 'portal:create_app()'`.

Everything can be changed from the environment (or the .env file, as for the app) without editing
this file. The app's own settings are read by config.py exactly as the app reads them (PORTAL_<NAME>
or <NAME>, the environment over .env, the settings class's defaults; production refuses to start
with unsafe settings here too):

- GUNICORN_BIND (default 127.0.0.1:8000: nginx in front), WEB_CONCURRENCY (workers, default 2 per
  core + 1), GUNICORN_TIMEOUT (seconds a request may take before its worker is replaced, default 30).
- PROXY_COUNT (the app's setting): with proxies in front, gunicorn believes X-Forwarded-Proto only from
  FORWARDED_ALLOW_IPS (default the loopback proxy); with none, from nobody.
- LOG_FORMAT ("json" default, or "text") and LOG_LEVEL, the app's settings: gunicorn's own lines and its
  access log (on, to stdout, with the request id and the time taken) are written like the app's,
  redacted the same way (a password-reset link's token never reaches the access log).
- PROMETHEUS_MULTIPROC_DIR: where the workers keep their metrics so that a scrape of any worker adds
  them all up (prometheus_client's multiprocess mode); default a fresh directory under /tmp. Emptied
  when gunicorn starts. (The jobs' figures are read from the job_runs table at each scrape: the jobs
  process need not share it.)
"""

import multiprocessing
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # config, portal.ops.logs, also before `pip install .`

from config import environment, load_config  # noqa: E402  (after the path above)

#: The app's settings, loaded as the app loads them (PORTAL_ prefix, .env, class defaults).
_settings = load_config()
#: gunicorn's own variables (not app settings): the environment over .env.
_env = environment()

bind = _env.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(_env.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(_env.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
#: Each worker is replaced after about this many requests (jitter: not all at once), so a slow leak
#: in a library cannot grow without bound.
max_requests = 1000
max_requests_jitter = 100

#: With proxies in front (PROXY_COUNT, as the app reads it; the app's ProxyFix handles the client
#: address), gunicorn believes the scheme they send only from them; with none, from nobody.
forwarded_allow_ips = _env.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1") if _settings["PROXY_COUNT"] else ""

#: gunicorn's control socket (`gunicornc`) is not used; one fixed path would be shared by every
#: instance on the host.
control_socket_disable = True

accesslog = "-"
#: The combined format, plus the time taken and the request id the app answered with.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms request_id=%({x-request-id}o)s'
errorlog = "-"
loglevel = str(_settings["LOG_LEVEL"]).lower()

_FORMATTER = (
    {"()": "portal.ops.logs.RedactingTextFormatter", "format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    if _settings["LOG_FORMAT"] == "text"
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
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", _env.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="portal-metrics-")
)


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
