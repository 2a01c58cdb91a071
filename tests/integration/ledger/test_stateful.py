"""Hypothesis drives random sequences of ledger operations, including replays, against the real
ledger and against a deliberately naive in-memory model; after every step both must agree."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

import tests.conftest as shared
from portal import ledger
from portal.db import make_sessionmaker
from portal.ledger import TransferRequest as R
from tests.builders import make_books
from tests.conftest import T0

CARDS = 3
amounts = st.integers(min_value=1, max_value=5_000)
cards = st.integers(min_value=0, max_value=CARDS - 1)
TTL = timedelta(minutes=30)


class Model:
    """Balances as four plain totals per account; the rules re-stated as simply as possible."""

    def __init__(self, account_ids, no_overdraft):
        self.totals = {a: [0, 0, 0, 0] for a in account_ids}  # debits, credits, pending debits, pending credits
        self.no_overdraft = set(no_overdraft)
        self.frozen: set[int] = set()

    def available(self, a):
        dp, cp, dq, _ = self.totals[a]
        return cp - dp - dq if a in self.no_overdraft else float("inf")

    def refusal(self, debit, amount, *, may_debit_frozen=False):
        if debit in self.frozen and not may_debit_frozen:
            return ledger.AccountFrozen
        if self.available(debit) < amount:
            return ledger.InsufficientFunds
        return None

    def post(self, debit, credit, amount):
        self.totals[debit][0] += amount
        self.totals[credit][1] += amount


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, engine):
        super().__init__()
        self.engine = engine
        self.session = make_sessionmaker(engine)()
        self.books = make_books(self.session, T0, customers=1, cards=CARDS)
        h = self.books.holders[0]
        self.h = h
        customer_accounts = [h.unit, *h.reserves, *h.purses]
        self.model = Model([*customer_accounts, self.books.clearing, self.books.sales], customer_accounts)
        self.now = T0
        self.n = 0
        self.journal = 0
        self.replayable: list[tuple] = []  # (callable, expected ids) of calls that succeeded
        self.pendings: dict[str, dict] = {}
        self.reversible: list[tuple[str, int, int, int]] = []  # (id, debit, credit, amount)
        self.reversed: set[str] = set()

    def teardown(self):
        try:
            self.session.rollback()
            report = ledger.verify(self.session)
            assert report.ok, report.problems
        finally:
            self.session.close()
            shared._wipe(self.engine)

    def new_id(self):
        self.n += 1
        return f"t{self.n}"

    def run(self, call, expected_error, rows_added, on_success=None):
        """Run `call` on the ledger; it must fail with exactly `expected_error` or succeed."""
        try:
            result = call()
        except ledger.LedgerError as exc:
            self.session.rollback()
            assert expected_error is not None and isinstance(exc, expected_error), f"unexpected {exc!r}"
            return None
        self.session.commit()
        assert expected_error is None, f"expected {expected_error.__name__}, the ledger accepted it"
        self.journal += rows_added
        if on_success:
            on_success()
        ids = [t.id for t in result] if isinstance(result, list) else [result.id]
        self.replayable.append((call, ids))
        return result

    @rule(amount=amounts)
    def deposit(self, amount):
        request = R(self.new_id(), self.books.clearing, self.h.unit, amount, "deposit")
        self.run(lambda: ledger.transfer(self.session, request, now=self.now), None, 1, lambda: self.record(request))

    @rule(allocations=st.lists(st.tuples(cards, amounts), min_size=1, max_size=4))
    def allocate(self, allocations):
        requests = [R(self.new_id(), self.h.unit, self.h.reserves[c], a, "allocation") for c, a in allocations]
        error, unit_left = None, self.model.available(self.h.unit)
        for request in requests:
            if self.h.unit in self.model.frozen:
                error = ledger.AccountFrozen
            elif unit_left < request.amount:
                error = ledger.InsufficientFunds
            if error:
                break
            unit_left -= request.amount

        def apply():
            for request in requests:
                self.record(request)

        self.run(lambda: ledger.transfer_batch(self.session, requests, now=self.now), error, len(requests), apply)

    @rule(card=cards, amount=amounts)
    def collect(self, card, amount):
        request = R(self.new_id(), self.h.reserves[card], self.h.unit, amount, "collection")
        error = self.model.refusal(request.debit_account_id, amount)
        self.run(lambda: ledger.transfer(self.session, request, now=self.now), error, 1, lambda: self.record(request))

    @rule(card=cards, amount=amounts)
    def purchase(self, card, amount):
        request = R(self.new_id(), self.h.purses[card], self.books.sales, amount, "purchase")
        error = self.model.refusal(request.debit_account_id, amount)
        self.run(lambda: ledger.transfer(self.session, request, now=self.now), error, 1, lambda: self.record(request))

    @rule(card=cards, amount=amounts)
    def load(self, card, amount):
        request = R(self.new_id(), self.h.reserves[card], self.h.purses[card], amount, "load")
        error = self.model.refusal(request.debit_account_id, amount)
        expires_at = self.now + TTL

        def apply():
            t = self.model.totals
            t[request.debit_account_id][2] += amount
            t[request.credit_account_id][3] += amount
            self.pendings[request.id] = {"request": request, "expires_at": expires_at, "open": True}

        call = lambda: ledger.create_pending(self.session, request, now=self.now, expires_at=expires_at)  # noqa: E731
        self.run(call, error, 1, apply)

    def release(self, pending):
        request = pending["request"]
        self.model.totals[request.debit_account_id][2] -= request.amount
        self.model.totals[request.credit_account_id][3] -= request.amount
        pending["open"] = False

    @rule(data=st.data(), share=st.integers(min_value=1, max_value=100))
    def post(self, data, share):
        if not self.pendings:
            return
        pending_id = data.draw(st.sampled_from(sorted(self.pendings)))
        pending = self.pendings[pending_id]
        request = pending["request"]
        amount = max(1, request.amount * share // 100)
        if not pending["open"]:
            error = ledger.PendingAlreadyResolved
        elif self.now >= pending["expires_at"]:
            error = ledger.PendingExpired
        else:
            error = None
        tid = self.new_id()

        def apply():
            self.release(pending)
            self.model.post(request.debit_account_id, request.credit_account_id, amount)
            self.reversible.append((tid, request.debit_account_id, request.credit_account_id, amount))

        call = lambda: ledger.post_pending(self.session, tid, pending_id, now=self.now, amount=amount)  # noqa: E731
        self.run(call, error, 1, apply)

    @rule(data=st.data())
    def void(self, data):
        if not self.pendings:
            return
        pending_id = data.draw(st.sampled_from(sorted(self.pendings)))
        pending = self.pendings[pending_id]
        error = None if pending["open"] else ledger.PendingAlreadyResolved
        tid = self.new_id()
        self.run(
            lambda: ledger.void_pending(self.session, tid, pending_id, now=self.now),
            error,
            1,
            lambda: self.release(pending),
        )

    @rule(minutes=st.integers(min_value=1, max_value=45))
    def expire(self, minutes):
        self.now += timedelta(minutes=minutes)
        overdue = [p for p in self.pendings.values() if p["open"] and p["expires_at"] <= self.now]
        assert ledger.expire_pending(self.session, now=self.now) == len(overdue)
        self.session.commit()
        for pending in overdue:
            self.release(pending)
        self.journal += len(overdue)

    @rule(data=st.data())
    def toggle_freeze(self, data):
        account = data.draw(st.sampled_from([self.h.unit, *self.h.reserves, *self.h.purses]))
        if account in self.model.frozen:
            ledger.unfreeze_account(self.session, account)
            self.model.frozen.discard(account)
        else:
            ledger.freeze_account(self.session, account)
            self.model.frozen.add(account)
        self.session.commit()

    @rule(data=st.data())
    def reverse(self, data):
        if not self.reversible:
            return
        tid, debit, credit, amount = data.draw(st.sampled_from(self.reversible))
        error = ledger.AlreadyReversed if tid in self.reversed else self.model.refusal(credit, amount)
        rid = self.new_id()

        def apply():
            self.model.post(credit, debit, amount)
            self.reversed.add(tid)

        self.run(lambda: ledger.reverse(self.session, rid, tid, now=self.now), error, 1, apply)

    @rule(data=st.data())
    def replay(self, data):
        """Any earlier successful call, repeated: same transfers back, nothing new written."""
        if not self.replayable:
            return
        call, ids = data.draw(st.sampled_from(self.replayable))
        result = call()
        self.session.commit()
        assert ([t.id for t in result] if isinstance(result, list) else [result.id]) == ids

    def record(self, request):
        self.model.post(request.debit_account_id, request.credit_account_id, request.amount)
        self.reversible.append((request.id, request.debit_account_id, request.credit_account_id, request.amount))

    @invariant()
    def books_match_the_model(self):
        self.session.expire_all()
        accounts = self.session.scalars(select(ledger.Account).where(ledger.Account.id.in_(self.model.totals)))
        for account in accounts:
            stored = [account.debits_posted, account.credits_posted, account.debits_pending, account.credits_pending]
            assert stored == self.model.totals[account.id], f"account {account.id} ({account.kind})"
            assert account.frozen == (account.id in self.model.frozen)
        assert self.session.query(ledger.Transfer).count() == self.journal
        self.session.rollback()

    @invariant()
    def nothing_is_overdrawn(self):
        for a in self.model.no_overdraft:
            assert self.model.available(a) >= 0


def test_random_operations_match_the_model(db_engine):
    run_state_machine_as_test(
        lambda: LedgerMachine(db_engine),
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
