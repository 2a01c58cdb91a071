"""Two (here: eight) admins allocating at once can never overdraw the unit account (PostgreSQL)."""

import threading

import pytest

from portal import ledger
from portal.db import make_sessionmaker
from portal.funds import services
from portal.funds.models import FundsBatch
from portal.funds.plan import RawLine
from tests.builders import UNIT_A, funds_customers
from tests.builders import unit_balance as unit


@pytest.mark.postgres
@pytest.mark.slow
def test_concurrent_allocations_never_overdraw_and_double_confirms_post_once(db_engine, clock):
    Session = make_sessionmaker(db_engine)
    with Session() as s:
        w = funds_customers(s, clock.now())
        s.commit()
        numbers = [w.a1_number, w.a2_number, w.a3_number]
        # eight drafts of 3,000.00 yuan each against 10,000.00: at most three can post
        batch_ids = []
        for i in range(8):
            lines = [RawLine(1, numbers[i % 3], "1000"), RawLine(2, numbers[(i + 1) % 3], "2000")]
            batch = services.prepare_batch(
                s, customer_id=w.a, kind="allocation", lines=lines, actor_id=w.admin_a, now=clock.now()
            )
            batch_ids.append(batch.id)
        s.commit()

    outcomes: list[str] = []
    barrier = threading.Barrier(16)

    def confirm(batch_id: str, actor: int) -> None:
        with Session() as s:
            barrier.wait()
            try:
                batch = services.get_batch(s, batch_id, w.a, lock=True)
                services.confirm_batch(s, batch, actor_id=actor, now=clock.now())
                s.commit()
                outcomes.append("posted")
            except services.FundsError as exc:
                s.rollback()
                outcomes.append(exc.code)

    # every draft is confirmed twice at the same moment, by two admins (a double submit)
    threads = [
        threading.Thread(target=confirm, args=(batch_id, actor))
        for batch_id in batch_ids
        for actor in (w.admin_a, w.admin_a2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    with Session() as s:
        posted = s.query(FundsBatch).filter(FundsBatch.status == "posted").count()
        assert posted == 3
        assert unit(s, w.a) == UNIT_A - 3 * 300000 >= 0
        assert s.query(ledger.Transfer).filter(ledger.Transfer.code == "allocation").count() == 2 * posted
        assert set(outcomes) <= {"posted", "insufficient"}
        assert ledger.verify(s).ok
