"""Input the form fuzz (test_fuzz_forms.py) found answering 500: each case answers 4xx with a clear
message and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.builders import CARD_NUMBER, station_setup
from tests.conftest import T0
from tests.web.conftest import csrf_token, signed_in


def test_a_nul_in_the_sign_in_form_is_refused(client, showcase_world):
    """PostgreSQL cannot compare a NUL: the throttle's look-up of the user name failed (500)."""
    response = client.post(
        "/auth/sign-in", data={"username": "a\x00b", "password": "x", "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_a_nul_in_a_form_field_stores_nothing(app, client, showcase_world, db):
    from portal.customers.models import Customer

    world = showcase_world
    signed_in(client, world.admin, world.password)
    before = db(lambda s: s.get(Customer, world.customer_id).address)
    response = client.post("/profile/", data={"address": "北京\x00", "csrf_token": csrf_token(client, "/profile/")})
    assert response.status_code == 400
    assert db(lambda s: s.get(Customer, world.customer_id).address) == before


def test_a_nul_in_a_field_name_is_refused(client, showcase_world):
    world = showcase_world
    signed_in(client, world.admin, world.password)
    token = csrf_token(client, "/")
    assert client.post("/funds/allocate", data={"amount-\x00": "1", "csrf_token": token}).status_code == 400


@pytest.mark.parametrize("path", ["/cards/?q=a%00b", "/drivers/?q=%00", "/queries/purchases?plate=%00", "/?x%00=1"])
def test_a_nul_in_a_query_string_is_refused(client, showcase_world, path):
    """PostgreSQL cannot compare a NUL: a card search with one was a 500."""
    world = showcase_world
    signed_in(client, world.admin, world.password)
    response = client.get(path)
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_the_refusal_is_in_english_too(client, showcase_world):
    client.set_cookie("lang", "en")
    response = client.post("/auth/recover", data={"username": "\x00", "contact": "x", "csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert "contains a NUL character" in response.get_data(as_text=True)


@pytest.mark.parametrize("field", ["product_code", "plate", "station_code"])
def test_a_nul_in_a_terminal_api_string_is_refused(app, client, field):
    """PostgreSQL cannot store or compare a NUL: a product, plate or station code with one was a 500."""
    from portal.extensions import db
    from portal.purchases.models import Purchase

    with app.app_context():
        world = station_setup(db.session, now=T0, purse_fen=100_000)
        db.session.commit()
        key = world.key
    body = {
        "card_number": CARD_NUMBER, "product_code": "92", "litres_ml": 40_000, "unit_price_fen": 750,
        "amount_fen": 30_000, "terminal_seq": 1, "at": T0.isoformat(), field: "92\x00",
    }  # fmt: skip
    response = client.post("/api/terminal/v1/purchases", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_field"
    with app.app_context():
        assert db.session.scalar(select(func.count(Purchase.id))) == 0


@pytest.mark.parametrize("forwarded", ["x" * 300, "1.2.3.4, not-an-address", "fe80::1%" + "e" * 60])
def test_a_forwarded_address_that_is_not_one_is_not_stored(app, client, showcase_world, db, forwarded):
    """Behind a proxy (PROXY_COUNT=1, production's default) a junk X-Forwarded-For became the client
    address, too long for the audit's ip column on PostgreSQL (500 on a failed sign-in)."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from portal.audit.models import AuditEvent

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)
    data = {"username": showcase_world.admin, "password": "wrong", "csrf_token": csrf_token(client)}
    response = client.post("/auth/sign-in", data=data, headers={"X-Forwarded-For": forwarded})
    assert response.status_code < 500
    assert db(lambda s: s.scalars(select(AuditEvent.ip)).all()) == [""]


@pytest.mark.parametrize("role", ["admin", "driver"])
def test_a_loss_report_for_a_card_id_of_thousands_of_digits_is_refused(client, showcase_world, db, role):
    """int() refuses over 4,300 digits: the loss report's own id check raised (500)."""
    from portal.cards.models import LossReport

    signed_in(client, getattr(showcase_world, role), showcase_world.password)
    data = {"card_id": "9" * 5000, "reason": "lost", "csrf_token": csrf_token(client, "/")}
    response = client.post("/cards/loss/report", data=data)
    assert response.status_code == 422
    assert db(lambda s: s.scalars(select(LossReport)).all()) == []


@pytest.fixture
def funded_card_id(app, clock, showcase_world) -> int:
    """An active sub-card of the showcase customer with 100 yuan in its reserve."""
    from portal.auth.models import User
    from portal.cards.models import Card
    from portal.customers.models import Customer
    from portal.extensions import db
    from portal.funds import services as funds
    from portal.funds.plan import RawLine

    world, now = showcase_world, clock.now()
    with app.app_context():
        s = db.session
        staff, admin = (s.scalar(select(User.id).where(User.username == name)) for name in (world.staff, world.admin))
        customer = s.get(Customer, world.customer_id)
        card = s.scalars(
            select(Card).where(Card.customer_id == customer.id, Card.role == "sub", Card.status == "active")
        ).first()
        funds.record_deposit(s, key="d" * 32, customer=customer, amount=10_000, bank_reference="R", memo="",
                             actor_id=staff, now=now)  # fmt: skip
        lines = [RawLine(1, card.number, "100")]
        batch = funds.prepare_batch(s, customer_id=customer.id, kind="allocation", lines=lines, actor_id=admin, now=now)
        funds.confirm_batch(s, batch, actor_id=admin, now=now)
        s.commit()
        return card.id


@pytest.mark.parametrize("key", [" x", "¾", "k" * 33, "not a key!"])
def test_a_load_whose_key_the_page_did_not_make_is_refused(client, showcase_world, funded_card_id, db, key):
    """The hidden idempotency key reached the ledger as a transfer id, which refused it (500)."""
    from portal.chips.models import LoadRequest

    signed_in(client, showcase_world.admin, showcase_world.password)
    data = {"key": key, "card_id": funded_card_id, "amount": "10", "password": showcase_world.password}
    response = client.post("/chips/load", data={**data, "csrf_token": csrf_token(client, "/chips/load")})
    assert response.status_code == 422
    assert "此表单已失效" in response.get_data(as_text=True)
    assert db(lambda s: s.scalars(select(LoadRequest)).all()) == []


def test_a_deposit_whose_key_the_page_did_not_make_is_refused(client, showcase_world, db):
    from portal.funds.models import Deposit

    signed_in(client, showcase_world.staff, showcase_world.password)
    data = {"key": "¾", "customer_id": showcase_world.customer_id, "amount": "10", "bank_reference": "R-1"}
    response = client.post("/funds/deposits", data={**data, "csrf_token": csrf_token(client, "/funds/deposits")})
    assert response.status_code == 422
    assert "此表单已失效" in response.get_data(as_text=True)
    assert db(lambda s: s.scalars(select(Deposit)).all()) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/funds/batches/%00"), ("POST", "/chips/loads/a%00b/write"), ("POST", "/chips/loads/%00/cancel")],
)
def test_a_nul_in_the_path_is_refused(client, showcase_world, method, path):
    """PostgreSQL cannot compare a NUL: an id with one reached the owner check's query (500)."""
    world = showcase_world
    signed_in(client, world.admin, world.password)
    response = client.open(path, method=method, data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 400
