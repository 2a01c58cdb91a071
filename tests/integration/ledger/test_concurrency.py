"""Jepsen-style bank test on PostgreSQL: many threads move money over a few hot accounts, with
overlapping batches and replayed and clashing ids. Afterwards the books verify, nothing is
negative, and every acknowledged transfer is in the journal exactly once, as acknowledged."""

from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import select

from portal import ledger
from portal.db import make_sessionmaker
from portal.ledger import TransferRequest as R
from tests.builders import make_books
from tests.conftest import T0

THREADS = 8
OPS = 40
CONTENT = ("debit_account_id", "credit_account_id", "amount", "code")


@pytest.mark.postgres
@pytest.mark.slow
def test_concurrent_transfers_keep_the_books(db_engine):
    make = make_sessionmaker(db_engine)
    with make() as setup:
        books = make_books(setup, T0, customers=2, cards=4)
    hot, other = books.holders
    # Requests every thread submits too: the same id with the same content (retries racing).
    shared = [R(f"shared-dep:{k}", books.clearing, hot.unit, 500, "deposit") for k in range(10)]
    shared_batches = [
        [R(f"shared-alloc:{k}:{i}", hot.unit, hot.reserves[(k + i) % 4], 100, "allocation") for i in range(3)]
        for k in range(10)
    ]
    acked: dict[str, tuple] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        rnd = random.Random(n)
        session = make()
        start.wait()
        try:
            for op in range(OPS):
                tid = f"w{n}:{op}"
                card = rnd.randrange(4)
                choice = rnd.random()
                if choice < 0.15:
                    requests = [R(tid, books.clearing, hot.unit, rnd.randint(100, 3_000), "deposit")]
                elif choice < 0.35:  # overlapping batch allocation onto 2-4 hot cards
                    picked = rnd.sample(range(4), rnd.randint(2, 4))
                    requests = [
                        R(f"{tid}:{i}", hot.unit, hot.reserves[c], rnd.randint(50, 800), "allocation")
                        for i, c in enumerate(picked)
                    ]
                elif choice < 0.45:
                    requests = [R(tid, hot.reserves[card], hot.unit, rnd.randint(50, 800), "collection")]
                elif choice < 0.55:
                    requests = [R(tid, hot.reserves[card], hot.purses[card], rnd.randint(50, 800), "load")]
                elif choice < 0.65:
                    requests = [R(tid, hot.purses[card], books.sales, rnd.randint(50, 500), "purchase")]
                elif choice < 0.75:
                    requests = [rnd.choice(shared)]
                elif choice < 0.85:
                    requests = rnd.choice(shared_batches)
                else:  # the same id for different money movements on disjoint accounts: one must lose
                    holder = hot if n % 2 else other
                    requests = [R(f"clash:{op % 5}", holder.reserves[0], holder.purses[0], 1, "load")]
                try:
                    if len(requests) == 1:
                        result = [ledger.transfer(session, requests[0], now=T0)]
                    else:
                        result = ledger.transfer_batch(session, requests, now=T0)
                    session.commit()
                except (ledger.InsufficientFunds, ledger.IdempotencyConflict):
                    session.rollback()
                    continue
                assert [t.id for t in result] == [r.id for r in requests]
                with lock:
                    for request in requests:
                        content = tuple(getattr(request, name) for name in CONTENT)
                        assert acked.setdefault(request.id, content) == content, f"{request.id} acked twice differently"
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures

    with make() as session:
        report = ledger.verify(session)
        assert report.ok, report.problems
        for account in session.scalars(select(ledger.Account).where(ledger.Account.no_overdraft)):
            assert ledger.available(account) >= 0, account
        journal = {t.id: tuple(getattr(t, name) for name in CONTENT) for t in session.scalars(select(ledger.Transfer))}
    # every acknowledged id exactly once, with the acknowledged content; nothing unacknowledged
    assert journal == acked
    assert any(tid.startswith("shared-dep:") for tid in journal)
    assert any(tid.startswith("clash:") for tid in journal)
    assert sum(1 for tid in journal if tid.startswith("w")) > THREADS * OPS // 4


@pytest.mark.postgres
def test_a_batch_that_loses_one_id_to_another_transaction_records_nothing(db_engine):
    """Transaction A records id "race:1"; B's batch ("race:0", "race:1") over other accounts (no
    account lock to wait for) waits for A on that id in its write and, once A commits, must not keep
    "race:0" without its totals: the statement refuses the partial batch."""
    make = make_sessionmaker(db_engine)
    with make() as setup:
        books = make_books(setup, T0, customers=2, cards=1)
        one, two = books.holders
        for n, holder in enumerate(books.holders):
            ledger.transfer(setup, R(f"race-dep:{n}", books.clearing, holder.unit, 1_000, "deposit"), now=T0)
        setup.commit()
    a, b = make(), make()
    outcome: list[BaseException | None] = []
    try:
        ledger.transfer(a, R("race:1", one.unit, one.reserves[0], 100, "allocation"), now=T0)

        def batch() -> None:
            try:
                ledger.transfer_batch(
                    b,
                    [
                        R("race:0", two.unit, two.reserves[0], 50, "allocation"),
                        R("race:1", two.unit, two.reserves[0], 60, "allocation"),
                    ],
                    now=T0,
                )
                outcome.append(None)
            except BaseException as error:  # noqa: BLE001  (asserted below)
                outcome.append(error)

        waiting = threading.Thread(target=batch)
        waiting.start()
        waiting.join(0.5)  # B is waiting for A's id
        a.commit()
        waiting.join(10)
        assert len(outcome) == 1 and isinstance(outcome[0], ledger.IdempotencyConflict), outcome
        assert "another transaction recorded one of this batch's ids" in str(outcome[0])
        b.rollback()
    finally:
        a.close()
        b.close()
    with make() as check:
        assert check.get(ledger.Transfer, "race:0") is None
        assert check.get(ledger.Transfer, "race:1").credit_account_id == one.reserves[0]
        assert ledger.verify(check).ok
