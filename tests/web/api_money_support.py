"""Helpers of the money API tests (funds, loads, points, alerts): keys owned by the showcase admin,
money put on the showcase customer's books through the services, and the sample objects the route
guard walk names in paths (tests/web/api_support.py PATH_SAMPLES)."""

from __future__ import annotations

from sqlalchemy import select

#: The showcase customer's active sub-cards, a lost one and a closed one (tests/builders.showcase).
CARD_1, CARD_2, CARD_3 = "9030000100000110", "9030000100000111", "9030000100000112"
LOST, CLOSED = "9030000100000115", "9030000100000116"
OTHER_MAIN = "9031000200000001"


def admin_id(session, world) -> int:
    from portal.auth.models import User

    return session.scalar(select(User.id).where(User.username == world.admin))


def owned_key(app, world, scopes=None, *, name: str = "ERP") -> str:
    """A key of the showcase customer created by its admin (the actor money moves are recorded under)."""
    from portal.apikeys import services
    from portal.apikeys.services import SCOPES
    from portal.extensions import clock, db

    with app.app_context():
        _key, token = services.create_key(
            db.session, customer_id=world.customer_id, name=name, scopes=list(scopes or SCOPES),
            actor_id=admin_id(db.session, world), now=clock().now(),
        )  # fmt: skip
        db.session.commit()
    return token


def card(session, number: str):
    from portal.cards.models import Card

    return session.scalar(select(Card).where(Card.number == number))


def deposit(session, world, amount: int, *, reference: str = "BANK-1", key: str | None = None):
    """A deposit into the showcase customer's unit account, recorded as staff record one (flushed)."""
    from portal.auth.models import User
    from portal.customers.models import Customer
    from portal.extensions import clock
    from portal.funds import services

    staff = session.scalar(select(User.id).where(User.username == world.staff))
    return services.record_deposit(
        session, key=key or services.new_key(), customer=session.get(Customer, world.customer_id), amount=amount,
        bank_reference=reference, memo="", actor_id=staff, now=clock().now(),
    )  # fmt: skip


def allocate(session, world, lines: dict[str, int]):
    """An allocation posted through the funds services, as the pages post one (flushed)."""
    from portal.extensions import clock
    from portal.funds import services
    from portal.funds.plan import RawLine
    from portal.money import format_fen_plain

    actor, now = admin_id(session, world), clock().now()
    raw = [RawLine(i, number, format_fen_plain(amount)) for i, (number, amount) in enumerate(lines.items(), 1)]
    batch = services.prepare_batch(
        session, customer_id=world.customer_id, kind="allocation", lines=raw, actor_id=actor, now=now
    )
    return services.confirm_batch(session, batch, actor_id=actor, now=now)


def give_points(session, number: str, points: int) -> None:
    from portal import ledger
    from portal.extensions import clock

    the_card = card(session, number)
    ledger.open_card_accounts(session, the_card.customer_id, the_card.id)
    request = ledger.TransferRequest(
        f"seed-points:{the_card.id}:{points}", ledger.system_account(session, "points_issued").id,
        ledger.card_account(session, the_card.id, "points").id, points, "points_earn",
    )  # fmt: skip
    ledger.transfer(session, request, now=clock().now())


def add_alert(session, world, number: str = CARD_1, *, kind: str = "tank_overfill", dedupe: str = "a"):
    from portal.alerts.models import Alert
    from portal.extensions import clock

    alert = Alert(
        customer_id=world.customer_id, card_id=card(session, number).id, kind=kind, dedupe_key=f"{kind}:{dedupe}",
        detail={"litres_ml": 90_000, "tank_ml": 60_000}, created_at=clock().now(),
    )  # fmt: skip
    session.add(alert)
    session.flush()
    return alert


def _seeded(session, world) -> dict[str, str]:
    """One of each object the guard walk names, committed once per session: a deposit, an
    allocation, a cancelled load, an alert and a redemption of the showcase customer."""
    from portal.alerts.models import Alert
    from portal.funds.models import Deposit, FundsBatch
    from portal.points.models import PointsRedemption

    if session.scalar(select(Deposit.id).where(Deposit.bank_reference == "GUARD-1")) is not None:
        return {
            "deposit_id": session.scalar(select(Deposit.id).where(Deposit.bank_reference == "GUARD-1")),
            "batch_id": session.scalar(select(FundsBatch.id).where(FundsBatch.customer_id == world.customer_id)),
            "load_id": "guardload",
            "alert_id": session.scalar(select(Alert.id).where(Alert.dedupe_key == "tank_overfill:guard")),
            "redemption_id": session.scalar(
                select(PointsRedemption.id).where(PointsRedemption.transfer_id == "portal-redeem:guard")
            ),
        }
    from portal.chips import loads
    from portal.extensions import clock
    from portal.rewards import services as rewards

    now, actor = clock().now(), admin_id(session, world)
    found = {"deposit_id": deposit(session, world, 100_000, reference="GUARD-1").id}
    found["batch_id"] = allocate(session, world, {CARD_1: 50_000}).id
    load = loads.request_load(session, load_id="guardload", card=card(session, CARD_1), amount=100, actor_id=actor,
                              now=now)  # fmt: skip
    loads.cancel_load(session, load, now=now, actor_id=actor)
    found["load_id"] = load.id
    found["alert_id"] = add_alert(session, world, dedupe="guard").id
    give_points(session, CARD_1, rewards.BLOCK_POINTS)
    found["redemption_id"] = rewards.redeem(
        session, card(session, CARD_1), rewards.BLOCK_POINTS, key="guard", actor_id=actor, now=now
    ).redemption.id
    session.commit()
    return found


def sample(name: str):
    """PATH_SAMPLES' entry for `name`."""
    return lambda session, world: _seeded(session, world)[name]


PROBLEM = "application/problem+json"


def problem(response, status: int, code: str) -> dict:
    """The response is the RFC 9457 problem `code` with `status`; its body."""
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["code"] == code, body
    return body


def headers(token: str, key: str | None = None) -> dict[str, str]:
    """Bearer `token`, and `Idempotency-Key: key` if given."""
    found = {"Authorization": f"Bearer {token}"}
    if key is not None:
        found["Idempotency-Key"] = key
    return found


def in_app(app, work):
    """`work(session)` in an app context, committed; its result."""
    from portal.extensions import db

    with app.app_context():
        result = work(db.session)
        db.session.commit()
        return result


def audit_events(app, action: str) -> list:
    from portal.audit.models import AuditEvent
    from portal.extensions import db

    with app.app_context():
        return [
            (event.actor_id, event.customer_id, dict(event.detail))
            for event in db.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        ]


def balances_of(app, world) -> tuple[int, dict[str, int]]:
    """(unit posted, {card number: reserve posted}) of the showcase customer, from the ledger."""
    from portal import ledger
    from portal.cards.models import Card
    from portal.extensions import db

    with app.app_context():
        cards = list(db.session.scalars(select(Card).where(Card.customer_id == world.customer_id)))
        found = ledger.many_card_balances(db.session, [c.id for c in cards])
        unit = ledger.customer_balances(db.session, world.customer_id).unit.posted
        return unit, {c.number: found[c.id].reserve.posted for c in cards}
