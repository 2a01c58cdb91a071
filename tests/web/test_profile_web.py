"""Customer profile through the web: admins edit contacts; staff of the region edit everything."""

from __future__ import annotations

import pytest

from tests.builders import PASSWORD
from tests.web.conftest import csrf_token, login


@pytest.fixture
def world(fleet_ids):
    return fleet_ids


def _customer(app, customer_id):
    from portal.customers.models import Customer
    from portal.extensions import db

    with app.app_context():
        return db.session.get(Customer, customer_id)


def test_admin_edits_contacts_but_not_the_legal_name(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    page = client.get("/profile/").get_data(as_text=True)
    assert "测试物流有限公司1" in page and 'name="name"' not in page and 'name="credit_code"' not in page
    response = client.post(
        "/profile/",
        data={
            "phone": "010-88888888",
            "invoice_bank": "中国银行",
            "postcode": "100000",
            "name": "篡改有限公司",
            "credit_code": "91110000MA99999990",
            "csrf_token": csrf_token(client, "/profile/"),
        },
    )
    assert response.status_code == 302
    customer = _customer(app, one.customer)
    assert (customer.phone, customer.invoice_bank, customer.postcode) == ("010-88888888", "中国银行", "100000")
    assert customer.name == "测试物流有限公司1" and customer.credit_code == "91110000MA0000001X"


@pytest.mark.parametrize(
    "bad", [{"email": "not-an-email"}, {"postcode": "1234"}, {"phone": "call me"}, {"contact_name": "x" * 65}]
)
def test_bad_profile_input_changes_nothing(app, client, world, bad):
    one, _ = world
    login(client, one.admin, PASSWORD)
    response = client.post("/profile/", data={"phone": "1", "csrf_token": csrf_token(client, "/profile/"), **bad})
    assert response.status_code == 422
    assert _customer(app, one.customer).phone == "010-12345678"


def test_staff_of_the_region_edit_legal_name_and_credit_code(app, client, world):
    one, two = world
    login(client, one.staff, PASSWORD)
    assert client.get(f"/profile/customers/{one.customer}").status_code == 200
    token = csrf_token(client, "/")
    data = {"name": "新名称物流有限公司", "credit_code": "91110000MA01ABCD3X", "csrf_token": token}
    assert client.post(f"/profile/customers/{one.customer}", data=data).status_code == 302
    assert _customer(app, one.customer).name == "新名称物流有限公司"
    taken = dict(data, credit_code="91110000MA0000002X")
    assert client.post(f"/profile/customers/{one.customer}", data=taken).status_code == 409
    assert _customer(app, one.customer).credit_code == "91110000MA01ABCD3X"
