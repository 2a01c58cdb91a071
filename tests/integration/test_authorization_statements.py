"""What one authorization costs in SQL statements (issue #6: a pump waits on every round trip).

An approval claims its sequence number (issue #14 item 10: copies sent at once must get one
answer; within its first statement, on PostgreSQL only), reads with two statements (the card's facts, taking its
lock, then its purchase history), writes the purchase and the day's totals with one each, and
leaves the money to the ledger's batch; alerts add statements only when one fires. The bounds below catch a change that
adds statements to that path: raise them only knowingly.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from portal import ledger
from portal.alerts.models import Alert
from portal.ledger import accounts as ledger_accounts
from portal.ledger import transfers as ledger_transfers
from portal.points import services as points
from portal.points.models import PointsRule
from portal.points.rules import earn
from portal.purchases.authorization import PurchaseRequest, authorize
from tests.builders import CARD_NUMBER, set_controls, station_setup
from tests.conftest import T0

#: The authorization's own statements for an approval: facts, history, purchase, day totals.
APPROVAL = 4
#: What the ledger's transfer batch (another area's, with its own tests) may take on top: lock the
#: accounts, then journal and totals (more on SQLite, which looks for a replay first).
LEDGER = 4


@pytest.fixture
def claim(session) -> int:
    """The sequence number's claim (portal.idempotency): an advisory lock, taken before the replay
    check so that copies sent at once are answered alike; on PostgreSQL it rides in the facts
    statement (issue #19: one round trip less), on SQLite there is none (its writers run one at a
    time anyway). No statement of its own either way."""
    return 0


@pytest.fixture
def world(session):
    w = station_setup(session, now=T0, purse_fen=1_000_000)
    session.commit()
    return w


@dataclass
class Statements:
    own: list[str] = field(default_factory=list)
    ledger: list[str] = field(default_factory=list)
    in_ledger: bool = False


@contextmanager
def counted(session, monkeypatch):
    """The SQL statements run on the session's engine inside the block, the ledger's apart.
    Transaction control (SQLite's BEGIN IMMEDIATE, savepoints) is left out: it is not a query."""
    seen = Statements()

    def before(_conn, _cursor, statement, _parameters, _context, _executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            (seen.ledger if seen.in_ledger else seen.own).append(statement)

    transfer_batch = ledger.transfer_batch

    def ledger_batch(*args, **kwargs):
        seen.in_ledger = True
        try:
            return transfer_batch(*args, **kwargs)
        finally:
            seen.in_ledger = False

    monkeypatch.setattr(ledger, "transfer_batch", ledger_batch)
    # The ledger's hot statements run on the driver's cursor (no SQLAlchemy events): count them here.
    run_on_driver = ledger_accounts.driver_rows

    def driver_rows(connection, statement, parameters):
        (seen.ledger if seen.in_ledger else seen.own).append(statement)
        return run_on_driver(connection, statement, parameters)

    for module in (ledger_accounts, ledger_transfers):
        monkeypatch.setattr(module, "driver_rows", driver_rows)
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        monkeypatch.undo()


def req(seq, litres_ml=20_000, at=T0, number=CARD_NUMBER):
    return PurchaseRequest(number, "92", litres_ml, 750, litres_ml * 750 // 1000, seq, at)


def test_an_approval_takes_few_statements(session, world, monkeypatch, claim):
    assert authorize(session, world.terminal, req(1), now=T0).approved
    session.commit()
    with counted(session, monkeypatch) as seen:
        answer = authorize(session, world.terminal, req(2, at=T0 + timedelta(minutes=1)), now=T0)
    assert answer.approved and answer.purchase.points == 150
    assert len(seen.own) <= APPROVAL + claim, seen.own
    assert 1 <= len(seen.ledger) <= LEDGER, seen.ledger


def test_daily_limits_cost_no_extra_statement(session, world, monkeypatch, claim):
    set_controls(session, world.card, daily_amount_limit_fen=1_000_000, daily_count_limit=10)
    assert authorize(session, world.terminal, req(1), now=T0).approved
    session.commit()
    with counted(session, monkeypatch) as seen:
        assert authorize(session, world.terminal, req(2, at=T0 + timedelta(minutes=1)), now=T0).approved
    assert len(seen.own) <= APPROVAL + claim, seen.own


def test_a_decline_takes_few_statements(session, world, monkeypatch, claim):
    world.card.status = "lost"
    session.commit()
    with counted(session, monkeypatch) as seen:
        answer = authorize(session, world.terminal, req(1), now=T0)
    assert answer.code == "card_lost"
    # facts, history, purchase, recent declines (the repeated-declines alert), day totals; no money
    assert len(seen.own) <= 5 + claim and seen.ledger == [], seen.own


def test_a_replay_takes_three_statements_and_the_claim(session, world, monkeypatch, claim):
    first = authorize(session, world.terminal, req(1), now=T0)
    session.commit()
    session.expunge_all()  # as in a new request's session: the purchase is read back once
    with counted(session, monkeypatch) as seen:
        again = authorize(session, world.terminal, req(1), now=T0)
    assert again.replayed and again.purchase.id == first.purchase.id
    assert len(seen.own) <= 3 + claim and seen.ledger == [], seen.own  # facts, history, the purchase


def test_fills_after_the_daily_alert_cost_no_alert_statements(session, world, monkeypatch, claim):
    for seq in range(1, 5):  # the fourth fill of the day raises too_many_fills
        authorize(session, world.terminal, req(seq, litres_ml=5_000, at=T0 + timedelta(minutes=seq)), now=T0)
    session.commit()
    assert [a.kind for a in session.scalars(select(Alert))] == ["too_many_fills"]
    with counted(session, monkeypatch) as seen:
        authorize(session, world.terminal, req(5, litres_ml=5_000, at=T0 + timedelta(minutes=5)), now=T0)
    assert len(seen.own) <= APPROVAL + claim, seen.own
    assert [a.kind for a in session.scalars(select(Alert))] == ["too_many_fills"]


def test_the_terminal_api_adds_only_the_key_lookup(app, client, monkeypatch, session, claim):
    from portal.extensions import db

    with app.app_context():
        w = station_setup(db.session, now=T0, purse_fen=1_000_000)
        db.session.commit()
        key = w.key
    body = {"card_number": CARD_NUMBER, "product_code": "92", "litres_ml": 20_000, "unit_price_fen": 750}
    body |= {"amount_fen": 15_000, "at": T0.isoformat()}
    headers = {"Authorization": f"Bearer {key}"}
    assert (
        client.post("/api/terminal/v1/purchases", json=body | {"terminal_seq": 1}, headers=headers).status_code == 200
    )
    app.config["CARD_READER"] = "none"  # production: no virtual chip to follow the purchase
    with app.app_context(), counted(db.session, monkeypatch) as seen:
        response = client.post("/api/terminal/v1/purchases", json=body | {"terminal_seq": 2}, headers=headers)
    assert response.status_code == 200 and response.get_json()["approved"]
    assert len(seen.own) <= APPROVAL + claim + 1, seen.own  # and the terminal's key
    # Development's virtual reader: one lookup more, for the card's chip (never written here).
    app.config["CARD_READER"] = "virtual"
    with app.app_context(), counted(db.session, monkeypatch) as seen:
        response = client.post("/api/terminal/v1/purchases", json=body | {"terminal_seq": 3}, headers=headers)
    assert response.status_code == 200 and response.get_json()["approved"]
    assert len(seen.own) <= APPROVAL + claim + 2, seen.own


@pytest.mark.parametrize("product", ["92", "0"])
def test_points_follow_the_most_specific_active_rule(session, world, product):
    """The pump reads only the rules that can apply; the choice is the same as over all rules."""
    session.add_all(
        [
            PointsRule(product_kind="gasoline", step_fen=100, points_per_step=2),
            PointsRule(product_kind="gasoline", region_id=world.far_region.id, step_fen=100, points_per_step=7),
            PointsRule(product_kind="gasoline", product_code="92", step_fen=100, points_per_step=4),
            PointsRule(product_kind="gasoline", product_code="92", step_fen=50, points_per_step=1, active=False),
            PointsRule(product_kind="diesel", region_id=world.region.id, step_fen=300, points_per_step=5),
            PointsRule(
                product_kind="diesel", product_code="0", region_id=world.far_region.id, step_fen=1, points_per_step=9
            ),
        ]
    )
    session.commit()
    price = 750 if product == "92" else 720
    request = PurchaseRequest(CARD_NUMBER, product, 40_000, price, 40_000 * price // 1000, 1, T0)
    purchase = authorize(session, world.terminal, request, now=T0).purchase
    kind = "gasoline" if product == "92" else "diesel"
    expected = earn(
        points.load_rules(session),
        amount_fen=purchase.amount_fen,
        product_kind=kind,
        product_code=product,
        region_id=world.region.id,
    )
    assert purchase.points == expected == {"92": 1200, "0": 480}[product]
