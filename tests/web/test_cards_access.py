"""Who may see what: every cards/drivers/profile route walked as another customer's admin, as a
driver, and as support staff of another region. None of them may see or change fleet 1's things."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from tests.builders import PASSWORD
from tests.web.conftest import csrf_token, login


@pytest.fixture
def world(app, fleet_ids):
    from portal.cards import loss, services
    from portal.cards.controls import Controls
    from portal.cards.models import Card
    from portal.extensions import clock, db

    one, two = fleet_ids
    with app.app_context():
        card = db.session.get(Card, one.cards[1])
        report = loss.report_loss(db.session, card, reason="lost", actor_id=None, now=clock().now())
        template = services.save_template(
            db.session, one.customer, "T", Controls(daily_count_limit=2), actor_id=None, now=clock().now()
        )
        db.session.commit()
        ids = {
            "card": one.cards[0],
            "report": report.id,
            "template": template.id,
            "driver": one.driver,
            "vehicle": one.vehicle,
            "customer": one.customer,
        }
    return one, two, ids


#: (method, path) of every admin-only route, with fleet 1's object ids.
ADMIN_ROUTES = [
    ("GET", "/cards/{card}/assign"),
    ("POST", "/cards/{card}/assign"),
    ("GET", "/cards/{card}/controls"),
    ("POST", "/cards/{card}/controls"),
    ("GET", "/cards/templates/{template}"),
    ("POST", "/cards/templates/{template}"),
    ("GET", "/cards/templates/{template}/delete"),
    ("POST", "/cards/templates/{template}/delete"),
    ("GET", "/cards/templates/{template}/apply"),
    ("POST", "/cards/templates/{template}/apply"),
    ("GET", "/cards/loss/{report}/cancel"),
    ("POST", "/cards/loss/{report}/cancel"),
    ("GET", "/cards/loss/{report}/replace"),
    ("POST", "/cards/loss/{report}/replace"),
    ("GET", "/drivers/{driver}"),
    ("POST", "/drivers/{driver}"),
    ("POST", "/drivers/{driver}/active"),
    ("GET", "/drivers/{driver}/deactivate"),
    ("POST", "/drivers/{driver}/deactivate"),
    ("GET", "/drivers/{driver}/reset-password"),
    ("POST", "/drivers/{driver}/reset-password"),
    ("POST", "/drivers/{driver}/login"),
    ("GET", "/drivers/vehicles/{vehicle}"),
    ("POST", "/drivers/vehicles/{vehicle}"),
    ("POST", "/drivers/vehicles/{vehicle}/active"),
    ("GET", "/drivers/vehicles/{vehicle}/deactivate"),
    ("POST", "/drivers/vehicles/{vehicle}/deactivate"),
]
#: Admin pages without an object id: other users are refused; another admin sees only their own.
ADMIN_LISTS = [
    ("GET", "/cards/"),
    ("GET", "/cards/templates"),
    ("GET", "/cards/templates/new"),
    ("POST", "/cards/templates/new"),
    ("GET", "/drivers/"),
    ("GET", "/drivers/new"),
    ("POST", "/drivers/new"),
    ("GET", "/drivers/vehicles/new"),
    ("POST", "/drivers/vehicles/new"),
    ("GET", "/profile/"),
    ("POST", "/profile/"),
]
#: Pages for both admins and drivers, about fleet 1's objects.
SHARED_ROUTES = [
    ("GET", "/cards/loss/{report}"),
    ("POST", "/cards/loss/report"),
]

FORM = {
    "card_id": "{card}",
    "reason": "lost",
    "name": "X",
    "username": "intruder",
    "plate": "京Z99999",
    "tank": "50",
    "card_ids": "{card}",
    "active": "0",
    "idempotency_key": "k" * 32,
    "phone": "110",
}


def _call(client, method, path, ids, token):
    url = path.format(**ids)
    if method == "GET":
        return client.get(url)
    data = {key: value.format(**ids) for key, value in FORM.items()}
    data["csrf_token"] = token
    return client.post(url, data=data)


def _audit_count(app, customer_id):
    from portal.extensions import db

    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.customer_id == customer_id)
        )


def _snapshot(app, ids):
    from portal.cards.models import Card, CardControls, ControlTemplate, LossReport
    from portal.drivers.models import Driver, Vehicle
    from portal.extensions import db

    with app.app_context():
        s = db.session
        return (
            s.get(Card, ids["card"]).status,
            s.get(Card, ids["card"]).driver_id,
            s.get(LossReport, ids["report"]).status,
            s.get(ControlTemplate, ids["template"]) is not None,
            s.get(CardControls, ids["card"]),
            s.get(Driver, ids["driver"]).name,
            s.get(Driver, ids["driver"]).active,
            s.get(Vehicle, ids["vehicle"]).active,
            s.scalar(select(func.count()).select_from(Driver)),
        )


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES + SHARED_ROUTES)
def test_another_customers_admin_gets_404_and_changes_nothing(app, client, world, method, path):
    one, two, ids = world
    before, audit = _snapshot(app, ids), _audit_count(app, one.customer)
    login(client, two.admin, PASSWORD)
    response = _call(client, method, path, ids, csrf_token(client, "/cards/"))
    assert response.status_code == 404, response.get_data(as_text=True)[:500]
    assert _snapshot(app, ids) == before
    assert _audit_count(app, one.customer) == audit


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES + ADMIN_LISTS)
def test_a_driver_gets_403_on_admin_pages(app, client, world, method, path):
    one, _, ids = world
    before = _snapshot(app, ids)
    login(client, one.driver_user, PASSWORD)
    response = _call(client, method, path, ids, csrf_token(client, "/cards/mine"))
    assert response.status_code == 403
    assert _snapshot(app, ids) == before


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES + ADMIN_LISTS + SHARED_ROUTES + [("GET", "/cards/mine")])
def test_staff_of_another_region_get_403(app, client, world, method, path):
    one, two, ids = world
    before = _snapshot(app, ids)
    login(client, two.staff, PASSWORD)
    response = _call(client, method, path, ids, csrf_token(client, "/"))
    assert response.status_code == 403
    assert _snapshot(app, ids) == before


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_staff_of_another_region_cannot_open_the_customer_profile(app, client, world, method):
    one, two, ids = world
    login(client, two.staff, PASSWORD)
    response = _call(client, method, "/profile/customers/{customer}", ids, csrf_token(client, "/"))
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["admin1", "driver1"])
def test_customer_users_cannot_use_the_staff_profile_page(app, client, world, who):
    _, _, ids = world
    login(client, who, PASSWORD)
    assert client.get("/profile/customers/{customer}".format(**ids)).status_code == 403


def test_a_driver_cannot_see_or_report_another_drivers_card(app, client, world):
    one, _, ids = world
    login(client, one.driver_user, PASSWORD)
    # The loss report in the world is about card 2, which is not this driver's.
    assert client.get("/cards/loss/{report}".format(**ids)).status_code == 404
    token = csrf_token(client, "/cards/mine")
    response = client.post("/cards/loss/report", data={"card_id": one.cards[1], "reason": "lost", "csrf_token": token})
    assert response.status_code == 404
    assert client.get("/cards/mine").status_code == 200


def test_anonymous_users_are_sent_to_sign_in(client, world):
    for path in ("/cards/", "/cards/loss", "/cards/mine", "/drivers/", "/profile/"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/sign-in" in response.headers["Location"]
