"""Customer profile maintenance (services, no Flask)."""

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.customers import services
from tests.conftest import T0


@pytest.fixture
def world(fleets):
    return fleets


def test_admin_updates_contacts_and_it_is_audited(session, world):
    fleet, _ = world
    diff = services.update_profile(
        session,
        fleet.customer,
        {"phone": " 010-999 ", "invoice_bank": "工商银行", "email": fleet.customer.email},
        actor_id=fleet.admin_id,
        by_staff=False,
        now=T0,
    )
    assert diff == {"phone": ("010-12345678", "010-999"), "invoice_bank": ("", "工商银行")}
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "profile.update"))
    assert event.detail["changes"]["phone"] == {"before": "010-12345678", "after": "010-999"}
    assert fleet.customer.profile_updated_at == T0


def test_admin_cannot_change_legal_name_or_credit_code(session, world):
    fleet, _ = world
    with pytest.raises(services.FieldNotEditable):
        services.update_profile(
            session, fleet.customer, {"name": "别的公司", "phone": "1"}, actor_id=fleet.admin_id, by_staff=False, now=T0
        )
    assert fleet.customer.name == "测试物流有限公司1" and fleet.customer.phone == "010-12345678"


def test_staff_may_change_legal_name_and_credit_code(session, world):
    fleet, other = world
    services.update_profile(
        session,
        fleet.customer,
        {"name": "新名称有限公司", "credit_code": "91110000ma01abcd3x"},
        actor_id=fleet.staff_id,
        by_staff=True,
        now=T0,
    )
    assert fleet.customer.credit_code == "91110000MA01ABCD3X"
    with pytest.raises(services.CreditCodeTaken):
        services.update_profile(
            session,
            fleet.customer,
            {"credit_code": other.customer.credit_code},
            actor_id=fleet.staff_id,
            by_staff=True,
            now=T0,
        )
    with pytest.raises(services.InvalidCreditCode):
        services.update_profile(session, fleet.customer, {"credit_code": "123"}, actor_id=None, by_staff=True, now=T0)
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "profile.staff_update")) is not None


def test_no_change_records_nothing(session, world):
    fleet, _ = world
    assert (
        services.update_profile(
            session, fleet.customer, {"phone": "010-12345678"}, actor_id=None, by_staff=False, now=T0
        )
        == {}
    )
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "profile.update")) is None
