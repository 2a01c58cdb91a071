"""The soak test's checker (bench/soak_checker.py) on a tiny world, without gunicorn: a true record
of what clients were told passes; an injected duplicate effect, negative account, broken
conservation, lost acknowledged operation or mismatched duplicate answers fails."""

from __future__ import annotations

import pytest

from bench.soak_checker import Attempt, Operation, check, inject
from portal.purchases.authorization import PurchaseRequest, authorize
from portal.purchases.refunds import refund
from tests.builders import CARD_NUMBER, station_setup

pytestmark = pytest.mark.postgres


def _ok(status: int, answer) -> Attempt:
    """The terminal's 200: (status, approved, purchase id, code)."""
    return Attempt(status, (status, answer.approved, answer.purchase.id, answer.code), success=True)


@pytest.fixture
def world(session, clock):
    """A purchase, a refund of it, and a second purchase sent twice at once: what the clients were told."""
    w = station_setup(session, now=clock.now())
    now = clock.now()

    def buy(seq: int):
        request = PurchaseRequest(CARD_NUMBER, "92", 2_000, 750, 1_500, seq, now)
        return authorize(session, w.terminal, request, now=now)

    first = buy(1)
    given_back = refund(session, w.terminal, purchase_id=first.purchase.id, terminal_seq=2, now=now)
    second = buy(3)
    session.commit()
    t = w.terminal.id
    operations = [
        Operation("purchase", f"{t}:1", 1_500, attempts=[Attempt(None), _ok(200, first)]),  # retried after a reset
        Operation("refund", f"{t}:2", 1_500, refund_of=first.purchase.id, attempts=[_ok(200, given_back)]),
        Operation(
            "purchase",
            f"{t}:3",
            1_500,
            duplicate=True,
            attempts=[_ok(200, second), _ok(200, second)],
        ),  # fmt: skip
        Operation("purchase", f"{t}:4", 1_500, attempts=[Attempt(None)]),  # unknown, and never happened
    ]
    for op in operations[2].attempts:
        op.paired = True
    return operations


def _check(session, operations, **kwargs):
    return check(session, operations, setup_prefix="w:", **kwargs)


def test_a_true_record_passes(session, world):
    outcome = _check(session, world)
    assert outcome.ok, outcome.violations
    assert outcome.counts == {"ack": 3, "unknown": 1}


@pytest.mark.parametrize(
    ("fault", "caught"),
    [
        ("duplicate", "journal rows that belong to no operation"),
        ("negative", "negative customer accounts"),
        ("conservation", "ledger verify failed"),
        ("lost", "acknowledged operations not in the books exactly once"),
    ],
)
def test_an_injected_fault_fails(session, world, fault, caught):
    inject(session, fault, world)
    outcome = _check(session, world)
    session.rollback()
    assert not outcome.ok
    assert any(v.startswith(caught) for v in outcome.violations), outcome.violations


def test_duplicates_with_different_answers_fail(session, world):
    pair = world[2].attempts
    pair[1] = Attempt(409, (409, "already_refunded"), paired=True)
    outcome = _check(session, world)
    assert outcome.duplicate_mismatches == 1
    assert any(v.startswith("duplicates sent at once that got different answers") for v in outcome.violations)


def test_a_5xx_is_unknown_only_right_after_a_database_kill(session, world):
    world[3].attempts = [Attempt(500, (500,), at=100.0)]
    assert _check(session, world, kills=[(99.0, 1)]).ok
    outcome = _check(session, world, kills=[(90.0, 1)])
    assert outcome.unexplained_5xx == 1
    assert any(v.startswith("5xx answers no kill explains") for v in outcome.violations)


def test_a_refused_operation_that_changed_the_books_fails(session, world):
    world[1].attempts = [Attempt(409, (409, "already_refunded"))]
    outcome = _check(session, world)
    assert any(v.startswith("refused operations that changed the books") for v in outcome.violations)


def test_an_effect_no_client_asked_for_fails(session, world):
    del world[1]
    outcome = _check(session, world)
    assert any(v.startswith("rows no client asked for") for v in outcome.violations)


def test_a_kill_explains_one_5xx_per_connection_it_terminated(session, world):
    world[3].attempts = [Attempt(500, (500,), at=100.0), Attempt(500, (500,), at=100.5)]
    assert _check(session, world, kills=[(99.0, 2)]).ok
    assert _check(session, world, kills=[(99.0, 1)]).unexplained_5xx == 1


def test_the_server_s_word_on_a_5xx_overrides_the_kill_timing(session, world):
    world[3].attempts = [Attempt(500, (500,), at=100.0, request_id="7")]
    assert _check(session, world, kills=[(10.0, 1)], server_errors={"7": True}).ok
    outcome = _check(session, world, kills=[(99.0, 1)], server_errors={"7": False})
    assert outcome.unexplained_5xx == 1
