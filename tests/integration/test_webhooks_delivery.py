"""Webhook delivery against a real HTTP receiver on 127.0.0.1 that verifies every signature with
standardwebhooks: delivered, retried (a 500, a timeout, a redirect), same event id on every try,
nothing for a disabled endpoint or a rolled-back change, disabled after a day of failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.notify.models import OutboxMessage
from portal.purchases.authorization import authorize
from portal.webhooks import delivery, events, services
from portal.webhooks.models import WebhookDelivery, WebhookEvent
from tests.builders import create_user, station_setup
from tests.conftest import T0
from tests.webhook_receiver import WebhookReceiver, register, settings


@pytest.fixture
def world(session):
    w = station_setup(session, now=T0)
    session.commit()
    return w


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def endpoint(session, world, receiver):
    row, secret = register(session, world.customer.id, receiver.url, ["purchase.approved"], now=T0)
    session.commit()
    receiver.secret = secret
    return row


def buy(session, world, seq=1, at=T0):
    from portal.purchases.authorization import PurchaseRequest
    from tests.builders import PRICE_92

    request = PurchaseRequest("9030110000000017", "92", 10_000, PRICE_92, 10 * PRICE_92, seq, at)
    return authorize(session, world.terminal, request, now=at)


def run(session, now, **kw):
    return delivery.deliver_due(session, settings(**kw), now=now)


def test_an_approved_purchase_is_delivered_signed(session, world, receiver, endpoint):
    answer = buy(session, world)
    session.commit()
    counts = run(session, T0)
    assert counts == {"webhooks_due": 1, "webhooks_delivered": 1, "webhooks_failed": 0, "webhooks_postponed": 0}
    assert receiver.wait_for(1)
    arrival = receiver.arrivals[0]
    assert arrival.verified, arrival.error
    event = session.scalar(select(WebhookEvent))
    assert arrival.headers["webhook-id"] == event.id and event.id.startswith("evt_")
    payload = arrival.payload
    assert payload["type"] == "purchase.approved" and payload["customer_id"] == world.customer.id
    assert payload["timestamp"] == "2026-03-02T10:00:00+08:00"
    data = payload["data"]
    assert data["purchase_id"] == answer.purchase.id and data["amount_fen"] == 7500
    assert isinstance(data["amount_fen"], int) and data["card_number"] == "9030110000000017"
    assert data["station_code"] == "ST110001" and data["at"].endswith("+08:00")
    row = session.scalar(select(WebhookDelivery))
    assert row.status == "delivered" and row.attempts == 1 and row.http_status == 200 and row.latency_ms >= 0
    assert row.delivered_at == T0 and row.next_attempt_at is None
    assert run(session, T0 + timedelta(hours=1))["webhooks_due"] == 0  # delivered once


def test_a_500_is_retried_with_the_same_event_id(session, world, receiver, endpoint):
    receiver.replies.extend([500, 503])
    buy(session, world)
    session.commit()
    assert run(session, T0)["webhooks_delivered"] == 0
    row = session.scalar(select(WebhookDelivery))
    assert row.status == "pending" and row.attempts == 1 and row.http_status == 500
    assert row.next_attempt_at == T0 + timedelta(seconds=5) and "receiver failed" in row.response_excerpt
    assert len(row.response_excerpt) <= delivery.EXCERPT_CHARS
    assert run(session, T0 + timedelta(seconds=4))["webhooks_due"] == 0  # not yet due
    run(session, T0 + timedelta(seconds=5))
    session.refresh(row)
    assert row.attempts == 2 and row.next_attempt_at == T0 + timedelta(seconds=5, minutes=5)
    run(session, T0 + timedelta(minutes=6))
    session.refresh(row)
    assert row.status == "delivered" and row.attempts == 3 and row.error == ""
    assert receiver.wait_for(3)
    ids = {a.headers["webhook-id"] for a in receiver.arrivals}
    bodies = {a.body for a in receiver.arrivals}
    assert len(ids) == 1 and len(bodies) == 1 and all(a.verified for a in receiver.arrivals)


def test_a_timeout_is_retried(session, world, receiver, endpoint):
    receiver.replies.append("slow")
    buy(session, world)
    session.commit()
    run(session, T0, timeout=0.2)
    row = session.scalar(select(WebhookDelivery))
    assert row.status == "pending" and row.http_status is None and "no answer" in row.error
    run(session, T0 + timedelta(seconds=5))
    session.refresh(row)
    assert row.status == "delivered" and row.attempts == 2


def test_redirects_are_not_followed(session, world, receiver, endpoint):
    receiver.replies.append(302)
    buy(session, world)
    session.commit()
    run(session, T0)
    row = session.scalar(select(WebhookDelivery))
    assert row.status == "pending" and row.http_status == 302 and row.error == "HTTP 302"
    assert len(receiver.arrivals) == 1


def test_a_disabled_endpoint_gets_nothing(session, world, receiver, endpoint):
    buy(session, world, seq=1)
    session.commit()
    services.set_enabled(session, endpoint, False, who=services.Who(None), now=T0)
    session.commit()
    assert run(session, T0)["webhooks_delivered"] == 0
    assert session.scalar(select(WebhookDelivery)).status == "failed"
    buy(session, world, seq=2)  # and while disabled, nothing is written for it
    session.commit()
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1
    assert receiver.arrivals == []


def test_a_rolled_back_change_delivers_nothing(session, world, receiver, endpoint):
    buy(session, world)
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1  # written in the transaction
    session.rollback()
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
    assert run(session, T0)["webhooks_due"] == 0
    assert receiver.arrivals == []


def test_a_customer_without_endpoints_writes_nothing(session, world):
    buy(session, world)
    session.commit()
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_an_endpoint_failing_for_a_day_is_disabled_and_the_admin_told(session, world, receiver, endpoint):
    create_user(session, "fleet_admin", "admin", T0, customer_id=world.customer.id, email="admin@fleet.example")
    session.commit()
    receiver.replies.extend([500] * 20)
    buy(session, world)
    session.commit()
    now = T0
    for wait in (timedelta(0), *delivery.RETRY_DELAYS):
        now += wait
        run(session, now)
    row = session.scalar(select(WebhookDelivery))
    assert row.status == "failed" and row.attempts == delivery.MAX_ATTEMPTS == 8
    assert now - T0 > timedelta(hours=24)
    session.refresh(endpoint)
    assert not endpoint.enabled and endpoint.disabled_reason == "failing"
    mail = session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "admin@fleet.example"))
    assert mail is not None and endpoint.url in mail.body
    audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "webhooks.auto_disable"))
    assert audit.customer_id == world.customer.id and audit.detail["endpoint"] == endpoint.id
    assert len(receiver.arrivals) == 8 and len({a.headers["webhook-id"] for a in receiver.arrivals}) == 1


def test_a_success_in_between_keeps_the_endpoint(session, world, receiver, endpoint):
    receiver.replies.extend([500] * 8)
    buy(session, world, seq=1)
    session.commit()
    run(session, T0)
    receiver.replies.clear()
    events.emit(session, world.customer.id, "purchase.approved", {"n": 2}, now=T0 + timedelta(hours=20))
    session.commit()
    run(session, T0 + timedelta(hours=20))  # the second event is delivered: the streak is over
    session.refresh(endpoint)
    assert endpoint.failing_since is None and endpoint.enabled


def test_an_address_that_turned_private_is_not_called(session, world, receiver, endpoint):
    buy(session, world)
    session.commit()
    private = settings()
    private = delivery.Settings(box=private.box, timeout=0.3, allow_insecure=False)
    delivery.deliver_due(session, private, now=T0)
    row = session.scalar(select(WebhookDelivery))
    assert row.status == "pending" and row.error.startswith("not sent") and receiver.arrivals == []


def test_test_event_and_redelivery_keep_the_event_id(session, world, receiver, endpoint):
    sent = services.send_test_event(session, endpoint, who=services.Who(None), now=T0)
    session.commit()
    assert delivery.attempt(session, sent.id, settings(), now=T0) == "delivered"
    session.commit()
    again = services.redeliver(session, sent, who=services.Who(None), now=T0 + timedelta(minutes=1))
    session.commit()
    assert delivery.attempt(session, again.id, settings(), now=T0 + timedelta(minutes=1)) == "delivered"
    session.commit()
    assert receiver.wait_for(2)
    assert [a.payload["type"] for a in receiver.arrivals] == ["webhook.test", "webhook.test"]
    assert receiver.arrivals[0].headers["webhook-id"] == receiver.arrivals[1].headers["webhook-id"]


def test_a_rotated_secret_signs_what_follows(session, world, receiver, endpoint):
    new = services.rotate_secret(session, endpoint, who=services.Who(None), box=settings().box, now=T0)
    session.commit()
    buy(session, world)
    session.commit()
    run(session, T0)
    assert not receiver.arrivals[0].verified  # the receiver still holds the old secret
    receiver.secret = new
    sent = services.send_test_event(session, endpoint, who=services.Who(None), now=T0)
    session.commit()
    delivery.attempt(session, sent.id, settings(), now=T0)
    assert receiver.arrivals[-1].verified


@pytest.mark.postgres
def test_a_delivery_being_sent_is_not_taken_by_another_worker(session, world, receiver, endpoint, db_engine):
    from portal.db import make_sessionmaker

    buy(session, world)
    session.commit()
    row_id = session.scalar(select(WebhookDelivery.id))
    session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == row_id).with_for_update())  # worker A holds it
    with make_sessionmaker(db_engine)() as other:
        assert delivery.attempt(other, row_id, settings(), now=T0) is None  # worker B skips it
        other.rollback()
    session.rollback()
    assert receiver.arrivals == []


def test_prune_deletes_finished_deliveries_and_their_events_only(session, world, receiver, endpoint):
    buy(session, world, seq=1)
    session.commit()
    run(session, T0)  # delivered
    receiver.replies.extend([500] * 3)
    buy(session, world, seq=2, at=T0 + timedelta(minutes=1))
    session.commit()
    run(session, T0 + timedelta(minutes=1))  # pending, retrying
    later = T0 + timedelta(days=91)
    assert delivery.prune(session, now=later, keep=timedelta(days=90)) == 1
    session.commit()
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1


# --- one bad answer or row never stops the queue ----------------------------------------------------


@pytest.fixture
def second(session, world):
    """Another receiver, another endpoint of the customer, for the same events."""
    with WebhookReceiver() as running:
        row, running.secret = register(session, world.customer.id, running.url, ["purchase.approved"], now=T0)
        session.commit()
        running.endpoint = row
        yield running


def test_an_answer_with_a_nul_byte_is_stored_cleaned_and_the_queue_goes_on(session, world, receiver, endpoint, second):
    receiver.replies.append((500, b"bad\x00answer"))
    buy(session, world)
    session.commit()
    counts = run(session, T0)
    assert counts["webhooks_due"] == 2 and counts["webhooks_delivered"] == 1
    session.expire_all()
    mine = session.scalar(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    assert mine.status == "pending" and mine.attempts == 1 and mine.http_status == 500
    assert mine.response_excerpt == "badanswer" and mine.next_attempt_at == T0 + timedelta(seconds=5)
    other = session.scalar(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == second.endpoint.id))
    assert other.status == "delivered"


def test_a_delivery_that_cannot_be_recorded_is_rescheduled_and_the_others_go(
    session, world, receiver, endpoint, second
):
    def post(url, body, headers, timeout, address=None):
        if url == receiver.url:
            raise RuntimeError("something nobody expected")
        return delivery.http_post(url, body, headers, timeout, address=address)

    buy(session, world)
    session.commit()
    counts = delivery.deliver_due(session, settings(), now=T0, post=post)
    assert counts["webhooks_due"] == 2 and counts["webhooks_delivered"] == 1
    session.expire_all()
    broken = session.scalar(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    assert broken.status == "pending" and broken.attempts == 1 and broken.error == "not recorded: RuntimeError"
    assert broken.next_attempt_at == T0 + timedelta(seconds=5)
    assert second.wait_for(1) and second.arrivals[0].verified


def test_storable_text_has_no_nul_and_fits():
    assert delivery.storable("a\x00b" + "c" * 600, 300) == "ab" + "c" * 298
    assert delivery.storable("\ud800x", 10) == "?x"


# --- throughput: batch after batch, a silent endpoint skipped for the run ---------------------------------


def test_a_run_takes_batch_after_batch_until_the_queue_is_empty(session, world, receiver, endpoint):
    for seq in range(1, 6):
        buy(session, world, seq=seq)
    session.commit()
    counts = delivery.deliver_due(session, settings(), now=T0, batch_size=2)
    assert counts["webhooks_delivered"] == 5 and receiver.wait_for(5)


def test_a_run_stops_when_its_time_budget_is_spent(session, world, receiver, endpoint):
    for seq in range(1, 4):
        buy(session, world, seq=seq)
    session.commit()
    ticks = iter(range(100))
    counts = delivery.deliver_due(
        session, settings(), now=T0, budget=timedelta(seconds=2), timer=lambda: float(next(ticks))
    )
    assert counts["webhooks_delivered"] == 2  # started at 0; attempts at 1 and 2; 3 is past the budget
    pending = session.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "pending")).all()
    assert len(pending) == 1 and pending[0].attempts == 0


def test_an_endpoint_that_refuses_connections_is_skipped_for_the_rest_of_the_run(session, world, second):
    closed, _ = register(session, world.customer.id, "http://127.0.0.1:1/hooks", ["purchase.approved"], now=T0)
    session.commit()
    for seq in range(1, 4):
        buy(session, world, seq=seq)
    session.commit()
    counts = run(session, T0)
    assert counts["webhooks_delivered"] == 3 and counts["webhooks_postponed"] == 2
    rows = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == closed.id).order_by(WebhookDelivery.id)
    ).all()
    assert [r.attempts for r in rows] == [1, 0, 0]
    assert "connection failed" in rows[0].error and rows[0].next_attempt_at == T0 + timedelta(seconds=5)
    assert [r.next_attempt_at for r in rows[1:]] == [T0 + delivery.STALLED_WAIT] * 2
    assert all(r.status == "pending" for r in rows)


# --- redeliver only what is over; auto-disable audited; prune in batches ---------------------------------


def test_only_a_delivered_or_failed_delivery_may_be_sent_again(session, world, endpoint):
    events.emit(session, world.customer.id, "purchase.approved", {"n": 1}, now=T0, due_at=T0 + timedelta(hours=1))
    session.commit()
    waiting = session.scalar(select(WebhookDelivery))
    with pytest.raises(services.EndpointError) as refused:
        services.redeliver(session, waiting, who=services.Who(None), now=T0)
    assert refused.value.code == "not_over"
    waiting.status, waiting.next_attempt_at = "cancelled", None
    session.commit()
    with pytest.raises(services.EndpointError):
        services.redeliver(session, waiting, who=services.Who(None), now=T0)
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1


def test_prune_deletes_in_committed_batches(session, world, receiver, endpoint):
    for seq in range(1, 4):
        buy(session, world, seq=seq)
    session.commit()
    run(session, T0)
    commits = []
    gone = delivery.prune(session, now=T0 + timedelta(days=91), keep=timedelta(days=90), batch_size=2,
                          end_batch=lambda: commits.append(session.commit()))  # fmt: skip
    assert gone == 3 and len(commits) == 4  # deliveries 2 + 1, events 2 + 1
    assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
