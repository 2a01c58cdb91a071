"""The Huey queue that triggers the jobs: one periodic task per registered job (its crontab from the
job's schedule) and one task that runs a named job now. The queue only carries triggers; the work
and its once-per-slot guarantee are the runner's (portal.jobs.web), so a queue per host (SQLite) or
one shared by every host (Redis) both run each slot once."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from huey import MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.api import Huey

from portal.jobs.registry import JOBS

#: run(name, manual) runs one job (the runner, bound to an app).
Runner = Callable[[str, bool], object]


def queue_name(config: Mapping) -> str:
    """JOBS_QUEUE_NAME, else the deployment's key prefix + "portal-jobs": two deployments (or a test
    run and a developer) sharing one Redis must not take each other's triggers."""
    return config.get("JOBS_QUEUE_NAME") or f"{config.get('RATELIMIT_KEY_PREFIX') or ''}portal-jobs"


def make_huey(config: Mapping, instance_path: str) -> Huey:
    """JOBS_QUEUE: "sqlite" (default: a file in the instance folder, or JOBS_SQLITE_PATH), "redis"
    (REDIS_URL) or "memory" (one process only: tests); named by `queue_name`."""
    kind, name = config.get("JOBS_QUEUE", "sqlite"), queue_name(config)
    if kind == "redis":
        return RedisHuey(name, url=config["REDIS_URL"], utc=True)
    if kind == "memory":
        return MemoryHuey(name, utc=True)
    if kind != "sqlite":
        raise ValueError(f"JOBS_QUEUE must be sqlite, redis or memory, not {kind!r}")
    path = config.get("JOBS_SQLITE_PATH") or os.path.join(instance_path, "jobs-queue.db")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return SqliteHuey(name, filename=path, utc=True)


def _trigger(run: Runner, name: str, manual: bool) -> Callable[[], object]:
    def trigger():
        return run(name, manual)

    trigger.__name__ = f"job_{name.replace('-', '_')}"
    return trigger


def register_jobs(huey: Huey, run: Runner, recover: Callable[[], object]):
    """Register a periodic task per job, and `recover` (runs whose worker died) every minute; returns
    the task that runs a named job now (`run_now(name)`)."""
    for job in JOBS.values():
        huey.periodic_task(crontab(**job.cron()), name=f"job:{job.name}")(_trigger(run, job.name, False))
    huey.periodic_task(crontab(), name="jobs:recover")(recover)

    def run_now(name: str, manual: bool = True):
        """A named job now: by hand (`manual`: a slot of its own), or its current slot (catching up)."""
        return run(name, manual)

    return huey.task(name="jobs:run-now")(run_now)
