"""What the scheduled jobs call: points expiry in batches past frozen accounts, outbox retries with
backoff, clearing delivered bodies, pruning sign-in records."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from portal import ledger
from portal.auth.housekeeping import prune_sign_in_records
from portal.auth.models import LoginSession, OneTimeCode, SignInThrottle
from portal.db import make_sessionmaker
from portal.notify import services as outbox
from portal.notify.models import OutboxMessage
from portal.ops.metrics import outbox_backlog
from portal.points.services import expire_points
from tests.builders import move, points_balance
from tests.conftest import T0


def test_points_expiry_skips_a_frozen_account_and_commits_each_batch(
    session, create_region, create_customer, create_card
):
    customer = create_customer(create_region(), name="Acme", credit_code="91110000000000001X")
    cards = [create_card(customer) for _ in range(3)]
    issued = ledger.system_account(session, "points_issued")
    for card in cards:
        move(
            session,
            "points_earn",
            issued,
            ledger.card_account(session, card.id, "points"),
            100,
            T0 - timedelta(days=800),
        )
    frozen = ledger.card_account(session, cards[1].id, "points")
    ledger.freeze_account(session, frozen.id)
    session.commit()
    commits = []

    def end_batch():
        commits.append(True)
        session.commit()

    result = expire_points(session, now=T0, days=730, batch_size=1, end_batch=end_batch)
    session.commit()
    assert (result.accounts, result.points) == (2, 200)
    assert list(result.skipped) == [frozen.id] and "frozen" in result.skipped[frozen.id]
    assert len(commits) == 3  # one a batch, the frozen account's too
    assert [points_balance(session, card) for card in cards] == [0, 100, 0]
    assert ledger.verify(session).ok


@pytest.fixture
def two_points_cards(session, create_region, create_customer, create_card):
    """Two cards, each with 100 points earned 800 days ago and 200 earned last week: 300 each."""
    customer = create_customer(create_region(), name="Acme", credit_code="91110000000000001X")
    cards = [create_card(customer), create_card(customer)]
    issued = ledger.system_account(session, "points_issued")
    for card in cards:
        account = ledger.card_account(session, card.id, "points")
        move(session, "points_earn", issued, account, 100, T0 - timedelta(days=800))
        move(session, "points_earn", issued, account, 200, T0 - timedelta(days=7))
    session.commit()
    return cards


def redeem_60(session, card):
    """A redemption at a station: 60 points off the card (FIFO: the oldest points go first)."""
    redeemed = ledger.system_account(session, "points_redeemed")
    move(session, "points_redeem", ledger.card_account(session, card.id, "points"), redeemed, 60, T0)


def test_points_expiry_rereads_each_batch_so_points_redeemed_meanwhile_are_not_expired(
    session, db_engine, two_points_cards
):
    """A redemption committed between two batches (by a station, another session) counts: of the
    second card's 100 old points 60 were spent, so 40 expire, not 100 of the newer ones."""
    first, second = two_points_cards
    other = make_sessionmaker(db_engine)()

    def end_batch():
        session.commit()
        if not other.in_transaction() and not getattr(end_batch, "done", False):
            end_batch.done = True
            redeem_60(other, second)
            other.commit()

    result = expire_points(session, now=T0, days=730, batch_size=1, end_batch=end_batch)
    session.commit()
    other.close()
    assert (result.accounts, result.points) == (2, 140)
    assert [points_balance(session, card) for card in two_points_cards] == [200, 200]
    assert ledger.verify(session).ok


@pytest.mark.postgres
def test_points_expiry_waits_for_a_redemption_in_flight_and_expires_only_what_is_left(db_engine, two_points_cards):
    """PostgreSQL: a redemption holds the card's account when the expiry batch reaches it; the batch
    waits for its lock and reads the balance after the redemption, so it expires 40, not 100."""
    Session = make_sessionmaker(db_engine)
    first, second = two_points_cards
    station = Session()
    redeem_60(station, second)  # not committed yet: the account row is locked
    outcome = {}

    def run_expiry():
        with Session() as jobs:
            outcome["result"] = expire_points(jobs, now=T0, days=730, batch_size=10, end_batch=jobs.commit)
            jobs.commit()

    expiry = threading.Thread(target=run_expiry)
    expiry.start()
    with Session() as watcher:  # wait (at most 30 s) until the expiry is blocked on the row lock
        deadline = time.monotonic() + 30
        query = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
        while not watcher.scalar(query) and expiry.is_alive() and time.monotonic() < deadline:
            watcher.rollback()
            time.sleep(0.01)
    station.commit()
    station.close()
    expiry.join(timeout=60)
    assert (outcome["result"].accounts, outcome["result"].points) == (2, 140)
    with Session() as s:
        assert [points_balance(s, card) for card in two_points_cards] == [200, 200]
        assert ledger.verify(s).ok


class Broken:
    def send(self, message):
        raise OSError("mail server down")


class Kept:
    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append((message.recipient, message.body))


def test_a_failed_message_is_retried_with_exponential_backoff_then_given_up(session):
    message = outbox.queue(session, "sms", "13800001234", "", "code 123456", now=T0)
    assert outbox.due(session, now=T0) == []  # the web side's first try comes first
    assert outbox.due(session, now=T0 + outbox.FIRST_TRY_GRACE) == [message.id]
    at, waits = T0 + outbox.FIRST_TRY_GRACE, []
    for _ in range(outbox.MAX_ATTEMPTS):
        assert outbox.deliver(session, outbox.due(session, now=at), {"sms": Broken()}, now=at) == 0
        if message.next_attempt_at is not None:
            waits.append(message.next_attempt_at - at)
            assert outbox.due(session, now=message.next_attempt_at - timedelta(seconds=1)) == []
            at = message.next_attempt_at
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert waits[-1] <= outbox.RETRY_CAP
    assert message.attempts == outbox.MAX_ATTEMPTS and message.sent_at is None
    assert message.error == "OSError: mail server down"
    assert outbox.due(session, now=at + timedelta(days=1)) == [] and outbox.given_up(session) == 1
    assert message.body == "" and message.recipient == "13800001234"  # the code it carried is gone
    assert outbox_backlog(session) == 0  # given up: not waiting any more


def test_a_message_sent_on_retry_is_sent_once(session):
    message = outbox.queue(session, "email", "a@example.cn", "Reset", "link", now=T0)
    outbox.deliver(session, [message.id], {"email": Broken()}, now=T0)
    kept = Kept()
    later = T0 + timedelta(minutes=1)
    assert outbox.deliver(session, outbox.due(session, now=later), {"email": kept}, now=later) == 1
    assert outbox.deliver(session, [message.id], {"email": kept}, now=later) == 0
    assert kept.sent == [("a@example.cn", "link")]
    assert (message.attempts, message.sent_at, message.error, message.next_attempt_at) == (2, later, "", None)


def test_delivered_bodies_are_cleared_and_old_messages_pruned(session):
    sent = outbox.queue(session, "sms", "13800001234", "", "code 654321", now=T0)
    waiting = outbox.queue(session, "sms", "13800001235", "", "code 111111", now=T0)
    outbox.deliver(session, [sent.id], {"sms": Kept()}, now=T0)
    session.expire_all()
    assert (sent.body, sent.recipient, sent.sent_at) == ("", "13800001234", T0)  # blanked as it is sent
    waiting.sent_at = T0  # marked sent by other means (a row from before deliver blanked bodies)
    session.flush()
    assert outbox.clear_delivered_bodies(session, now=T0 + timedelta(minutes=5), after=timedelta(minutes=10)) == 0
    assert outbox.clear_delivered_bodies(session, now=T0 + timedelta(minutes=10), after=timedelta(minutes=10)) == 1
    session.expire_all()
    assert (waiting.body, waiting.recipient) == ("", "13800001235")  # "sent to 138****1235" stays
    assert outbox.prune(session, now=T0 + timedelta(days=91), keep=timedelta(days=90)) == 2
    assert session.query(OutboxMessage).count() == 0


@pytest.fixture
def sign_in_records(session, create_user):
    user = create_user("root9", "sysadmin", T0 - timedelta(days=10))
    for n, (created, seen, revoked) in enumerate(
        [(T0 - timedelta(days=3), T0 - timedelta(days=3), None),  # idle for days: gone
         (T0 - timedelta(hours=1), T0 - timedelta(minutes=5), None),  # live: kept
         (T0 - timedelta(days=2), T0 - timedelta(days=2), T0 - timedelta(days=2))]  # signed out: gone
    ):  # fmt: skip
        session.add(
            LoginSession(
                user_id=user.id,
                customer_id=user.customer_id,
                token_hash=f"{n:064d}",
                created_at=created,
                last_seen_at=seen,
                revoked_at=revoked,
            )
        )
    session.add_all([
        SignInThrottle(key="ip:1", failures=2, window_started_at=T0 - timedelta(days=2)),  # gone
        SignInThrottle(key="ip:2", failures=2, window_started_at=T0 - timedelta(minutes=5)),  # kept
        SignInThrottle(key="name:x", failures=5, window_started_at=T0 - timedelta(days=2), locked_until=T0 + timedelta(hours=1)),
        SignInThrottle(key="name:y", failures=2, window_started_at=T0 - timedelta(days=9)),  # counting on: kept
        SignInThrottle(key="name:z", failures=0, window_started_at=T0 - timedelta(days=2), locked_until=T0 - timedelta(hours=1)),  # gone
    ])  # fmt: skip
    for n, created in enumerate([T0 - timedelta(days=3), T0 - timedelta(hours=20)]):
        session.add(OneTimeCode(purpose="recover", code_hash=f"h{n}", user_id=user.id, channel="sms",
                                destination="138", created_at=created, expires_at=created + timedelta(minutes=30)))  # fmt: skip
    session.commit()


def test_prune_deletes_ended_sessions_idle_throttles_and_old_codes(session, sign_in_records):
    counts = prune_sign_in_records(session, now=T0)
    session.commit()
    assert counts == {"sessions": 2, "throttles": 2, "codes": 1, "captchas": 0}
    assert {t.key for t in session.query(SignInThrottle)} == {"ip:2", "name:x", "name:y"}
    assert session.query(OneTimeCode).count() == 1  # a day's codes stay: the daily send limit counts them
    assert prune_sign_in_records(session, now=T0) == {"sessions": 0, "throttles": 0, "codes": 0, "captchas": 0}


def test_prune_drops_old_successful_job_runs_and_keeps_failures(session):
    from portal.jobs.catalogue import prune_runs
    from portal.jobs.models import JobRun

    for n, (age, status) in enumerate([(40, "ok"), (40, "failed"), (40, "alert"), (5, "ok")]):
        started = T0 - timedelta(days=age)
        session.add(JobRun(job="deliver-outbox", period=f"p{n}", status=status, started_at=started, worker="w"))
    session.commit()
    assert prune_runs(session, now=T0, keep=timedelta(days=30)) == 1
    session.commit()
    assert sorted(r.status for r in session.query(JobRun)) == ["alert", "failed", "ok"]
