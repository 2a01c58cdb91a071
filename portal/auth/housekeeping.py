"""Deleting sign-in records nobody needs any more (the prune job): ended sessions, idle throttle
counters, dead one-time codes and captchas. Each rule keeps rows for as long as a check still reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_
from sqlalchemy.orm import Session

from portal.auth.models import CaptchaChallenge, LoginSession, OneTimeCode, SignInThrottle
from portal.batches import DEFAULT_BATCH_SIZE, EndBatch, delete_in_batches


@dataclass(frozen=True)
class Retention:
    #: Sessions past their idle or absolute lifetime, or signed out, are kept this long (audit questions).
    sessions: timedelta = timedelta(days=1)
    session_idle: timedelta = timedelta(minutes=30)
    session_absolute: timedelta = timedelta(hours=12)
    #: A throttle counter untouched for this long (and not locking anyone) is forgotten.
    throttles: timedelta = timedelta(days=1)
    #: Codes and links are kept two days: the per-day send limits count them.
    codes: timedelta = timedelta(days=2)


def prune_sign_in_records(
    session: Session,
    *,
    now: datetime,
    keep: Retention = Retention(),
    batch_size: int = DEFAULT_BATCH_SIZE,
    end_batch: EndBatch = None,
) -> dict[str, int]:
    """Delete what has expired, `batch_size` rows at a time (`end_batch`, the caller's commit, after
    each batch); returns how many rows of each kind."""
    ended = now - keep.sessions
    sessions = or_(
        LoginSession.revoked_at < ended,
        LoginSession.last_seen_at < ended - keep.session_idle,
        LoginSession.created_at < ended - keep.session_absolute,
    )
    # An address's count is windowed, so an old window is done with. A typed name's count is kept
    # until it is back at 0, as a real account's `failed_sign_ins` is: pruning it earlier would let an
    # unknown name's count restart where a real account's goes on, telling them apart.
    throttles = and_(
        or_(SignInThrottle.locked_until.is_(None), SignInThrottle.locked_until < now),
        or_(
            and_(SignInThrottle.key.startswith("ip:"), SignInThrottle.window_started_at < now - keep.throttles),
            and_(SignInThrottle.key.startswith("name:"), SignInThrottle.failures == 0),
        ),
    )
    codes = and_(OneTimeCode.created_at < now - keep.codes, OneTimeCode.expires_at < now)
    captchas = CaptchaChallenge.expires_at < now
    return {
        name: delete_in_batches(session, model, where, batch_size=batch_size, end_batch=end_batch)
        for name, model, where in (
            ("sessions", LoginSession, sessions),
            ("throttles", SignInThrottle, throttles),
            ("codes", OneTimeCode, codes),
            ("captchas", CaptchaChallenge, captchas),
        )
    }
