from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from portal.customers.models import Customer
from portal.reference.models import Region


def test_timestamps_round_trip_as_aware_utc(session):
    region = Region(code="11", name_zh="北京", name_en="Beijing")
    session.add(region)
    session.flush()
    shanghai = timezone(timedelta(hours=8))
    customer = Customer(
        name="测试公司",
        credit_code="91110000000000001X",
        region_id=region.id,
        created_at=datetime(2026, 3, 2, 10, 0, tzinfo=shanghai),
    )
    session.add(customer)
    session.commit()
    session.expire_all()
    loaded = session.get(Customer, customer.id)
    assert loaded.created_at == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    assert loaded.created_at.tzinfo is not None


def test_naive_timestamps_are_refused(session):
    region = Region(code="12", name_zh="天津", name_en="Tianjin")
    session.add(region)
    session.flush()
    session.add(
        Customer(name="x", credit_code="91120000000000001X", region_id=region.id, created_at=datetime(2026, 1, 1))
    )
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
    session.rollback()
