"""portal.idempotency without a database server: the lock numbers, and the edge's one retry."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from portal import idempotency
from portal.ledger.errors import IdempotencyConflict, InsufficientFunds


def test_lock_ids_are_stable_signed_64_bit_and_keep_scopes_apart():
    number = idempotency.lock_id("deposit", "abc")
    assert number == idempotency.lock_id("deposit", "abc")  # every worker computes the same one
    assert -(2**63) <= number < 2**63
    assert idempotency.lock_id("deposit", "abc") != idempotency.lock_id("chip-load", "abc")
    # parts are kept apart: (1, 23) is not (12, 3)
    assert idempotency.lock_id("terminal-seq", 1, 23) != idempotency.lock_id("terminal-seq", 12, 3)
    assert len({idempotency.lock_id("terminal-seq", 7, seq) for seq in range(10_000)}) == 10_000


class FakeSession:
    def __init__(self):
        self.rollbacks = 0

    def rollback(self):
        self.rollbacks += 1


@pytest.mark.parametrize("lost", [IntegrityError("INSERT", {}, Exception("unique")), IdempotencyConflict("retry")])
def test_a_lost_race_is_rolled_back_and_asked_again_once(lost):
    session, calls = FakeSession(), []

    def action():
        calls.append(1)
        if len(calls) == 1:
            raise lost
        return "the recorded answer"

    assert idempotency.answer_once(session, action) == "the recorded answer"
    assert (len(calls), session.rollbacks) == (2, 1)


def test_other_refusals_and_a_second_loss_propagate():
    session = FakeSession()

    def refused():
        raise InsufficientFunds("no", account_id=1, available=0, amount=1)

    with pytest.raises(InsufficientFunds):
        idempotency.answer_once(session, refused)
    assert session.rollbacks == 0

    def always_lost():
        raise IdempotencyConflict("retry")

    with pytest.raises(IdempotencyConflict):
        idempotency.answer_once(session, always_lost)
    assert session.rollbacks == 1
