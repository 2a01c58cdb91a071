"""The demo world (`flask --app portal demo-data`): reference data, customers with fleets and cards,
staff, a system admin, and months of deposits, allocations, loads and purchases.

Deterministic from a seed and safe to run twice. Built through the services (auth, ledger,
reference); see `world.py` for the people and cards and `activity.py` for the money history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import idempotency
from portal.customers.models import Customer
from portal.demo.activity import ActivityCounts, generate_activity
from portal.demo.world import (
    DEMO_PASSWORD,
    DemoConflict,
    DemoOptions,
    DemoWorld,
    Login,
    build_world,
    existing_logins,
)

__all__ = [
    "DEMO_PASSWORD",
    "DemoConflict",
    "DemoOptions",
    "DemoResult",
    "Login",
    "build_demo",
    "database_has_data",
    "existing_logins",
]


@dataclass
class DemoResult:
    world: DemoWorld
    activity: ActivityCounts

    @property
    def logins(self) -> list[Login]:
        return self.world.logins


def build_demo(session: Session, options: DemoOptions, *, now: datetime, rounds: int) -> DemoResult:
    """Build what is missing of the demo world for `options`, with its history. Flushes only.
    Months of activity go into one transaction, written by nothing else: no idempotency claims."""
    world = build_world(session, options, now=now, rounds=rounds)
    with idempotency.single_writer(session):
        activity = generate_activity(session, world, options, now=now)
    return DemoResult(world, activity)


def database_has_data(session: Session) -> bool:
    """True once any customer exists (the demo's or a real one)."""
    return bool(session.scalar(select(func.count()).select_from(Customer)))
