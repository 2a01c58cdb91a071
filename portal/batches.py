"""Bulk changes in batches: the scheduled jobs delete and update old rows a batch at a time, each
batch its own transaction (the caller's `end_batch`, a commit), so no run holds millions of row
locks or one huge transaction, and a run stopped half-way keeps what it did. A change selected by
a condition is idempotent: a re-run (after a crash) finds only what is left.

Plain SQLAlchemy, no Flask: services call these, the jobs (portal.jobs.catalogue) pass the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

#: Rows per batch when the caller does not say (setting JOBS_BATCH_SIZE).
DEFAULT_BATCH_SIZE = 500

EndBatch = Callable[[], None] | None


def _batches(session: Session, model, where: ColumnElement[bool], batch_size: int):
    """The primary keys of the rows matching `where`, `batch_size` at a time, walking the primary key
    upwards: one pass over the table in all (never a fresh scan from the start for each batch), and
    it ends even when a change leaves rows matching."""
    if batch_size < 1:
        raise ValueError("a batch holds at least one row")
    key = model.__mapper__.primary_key[0]
    query = select(key).where(where).order_by(key).limit(batch_size)
    ids = list(session.scalars(query))
    while ids:
        yield key, ids
        if len(ids) < batch_size:
            return
        ids = list(session.scalars(query.where(key > ids[-1])))


def delete_in_batches(
    session: Session, model, where: ColumnElement[bool], *, batch_size: int = DEFAULT_BATCH_SIZE, end_batch: EndBatch
) -> int:
    """Delete the rows of `model` matching `where`, `batch_size` at a time, calling `end_batch`
    after each batch; returns how many were deleted."""
    deleted = 0
    for key, ids in _batches(session, model, where, batch_size):
        stmt = delete(model).where(key.in_(ids), where).execution_options(synchronize_session=False)
        deleted += session.execute(stmt).rowcount
        if end_batch is not None:
            end_batch()
    return deleted


def update_in_batches(
    session: Session,
    model,
    where: ColumnElement[bool],
    values: Mapping[str, Any],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    end_batch: EndBatch,
) -> int:
    """Set `values` on the rows of `model` matching `where`, `batch_size` at a time, calling
    `end_batch` after each batch; returns the rows changed."""
    changed = 0
    for key, ids in _batches(session, model, where, batch_size):
        stmt = update(model).where(key.in_(ids), where).values(**values).execution_options(synchronize_session=False)
        changed += session.execute(stmt).rowcount
        if end_batch is not None:
            end_batch()
    return changed
