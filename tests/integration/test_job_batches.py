"""Every bulk job commits in batches of JOBS_BATCH_SIZE rows: a run over more rows than a batch
commits several times, gives the same result as one big batch, and a run stopped half-way (a crash
between two batches) keeps what it did and is finished by the next run, without doing anything twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from portal import ledger
from portal.auth.housekeeping import prune_sign_in_records
from portal.auth.models import LoginSession
from portal.jobs import catalogue
from portal.jobs.models import JobRun
from portal.notify.models import OutboxMessage
from portal.points.services import expire_points
from tests.builders import move, points_balance
from tests.conftest import T0

SETTINGS = {"SESSION_IDLE_TIMEOUT": timedelta(minutes=30), "SESSION_ABSOLUTE_TIMEOUT": timedelta(hours=12)}


class Crash(Exception):
    """The worker dies between two batches."""


@pytest.fixture
def commits(session):
    """How many transactions the session commits from now on."""
    counted = []

    def count(_session):
        counted.append(1)

    event.listen(session, "after_commit", count)
    yield counted
    event.remove(session, "after_commit", count)


@pytest.fixture
def prunable(session, create_user):
    """7 ended sign-in sessions and 1 live one, 5 old sent messages, 4 old successful job runs."""
    user = create_user("root9", "sysadmin", T0 - timedelta(days=10))
    for n in range(8):
        seen = T0 - timedelta(days=3) if n < 7 else T0 - timedelta(minutes=5)
        session.add(
            LoginSession(
                user_id=user.id, token_hash=f"{n:064d}", created_at=seen, last_seen_at=seen, ip="", user_agent=""
            )
        )
    for n in range(5):
        old = T0 - timedelta(days=100)
        session.add(
            OutboxMessage(channel="sms", recipient=f"1380000{n:04d}", body="", created_at=old, sent_at=old, error="")
        )
    for n in range(4):
        session.add(JobRun(job="deliver-outbox", period=f"p{n}", status="ok", started_at=T0 - timedelta(days=40)))
    session.commit()


def _left(session) -> tuple[int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(m)) for m in (LoginSession, OutboxMessage, JobRun))


@pytest.mark.parametrize("size", [2, 1000])
def test_prune_commits_every_batch_and_the_result_does_not_depend_on_the_size(session, prunable, commits, size):
    counts = catalogue.prune(session, T0, {**SETTINGS, "JOBS_BATCH_SIZE": size})
    session.commit()
    assert (counts["sessions"], counts["messages"], counts["job_runs"]) == (7, 5, 4)
    assert _left(session) == (1, 0, 0)
    # 2 a batch: sessions in 4 batches, messages 3, runs 2 (and the last commit); 1000: one each.
    assert len(commits) == (4 + 3 + 2 + 1 if size == 2 else 3 + 1)


def test_a_prune_stopped_between_batches_keeps_what_it_did_and_the_next_run_finishes(session, prunable):
    done = []

    def end_batch():
        session.commit()
        done.append(1)
        if len(done) == 2:
            raise Crash

    with pytest.raises(Crash):
        prune_sign_in_records(session, now=T0, batch_size=3, end_batch=end_batch)
    session.rollback()
    assert _left(session)[0] == 8 - 6  # two batches of three committed
    again = catalogue.prune(session, T0, {**SETTINGS, "JOBS_BATCH_SIZE": 3})
    session.commit()
    assert again["sessions"] == 1 and _left(session) == (1, 0, 0)


@pytest.fixture
def points_cards(session, create_region, create_customer, create_card):
    """Five cards holding 100 points each, earned 800 days ago."""
    customer = create_customer(create_region(), name="Acme", credit_code="91110000000000001X")
    cards = [create_card(customer) for _ in range(5)]
    issued = ledger.system_account(session, "points_issued")
    for card in cards:
        points = ledger.card_account(session, card.id, "points")
        move(session, "points_earn", issued, points, 100, T0 - timedelta(days=800))
    session.commit()
    return cards


def test_the_points_expiry_job_commits_every_batch_of_the_setting(session, points_cards, commits):
    counts = catalogue.points_expire(session, T0, {"JOBS_BATCH_SIZE": 2})
    session.commit()
    assert counts == {"points_expired": 500, "accounts": 5}
    assert len(commits) >= 3  # 2 + 2 + 1 accounts
    assert [points_balance(session, card) for card in points_cards] == [0] * 5
    assert ledger.verify(session).ok


def test_points_expiry_stopped_between_batches_expires_each_account_once_when_run_again(session, points_cards):
    done = []

    def end_batch():
        session.commit()
        done.append(1)
        if len(done) == 1:
            raise Crash

    with pytest.raises(Crash):
        expire_points(session, now=T0, days=730, batch_size=2, end_batch=end_batch)
    session.rollback()
    assert [points_balance(session, card) for card in points_cards] == [0, 0, 100, 100, 100]
    again = expire_points(session, now=T0, days=730, batch_size=2, end_batch=session.commit)
    session.commit()
    assert (again.accounts, again.points) == (3, 300)  # only what the stopped run left
    assert [points_balance(session, card) for card in points_cards] == [0] * 5
    assert expire_points(session, now=T0, days=730, batch_size=2, end_batch=session.commit).points == 0
    assert ledger.verify(session).ok
