"""Alerts page for fleet admins (acknowledge) and the sysadmin's terminals page (key shown once)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.builders import CARD_NUMBER, station_setup
from tests.conftest import T0
from tests.web.conftest import csrf_token, login


@pytest.fixture
def world(app, make_user):
    from portal.extensions import db
    from portal.purchases.authorization import PurchaseRequest, authorize

    with app.app_context():
        w = station_setup(db.session, now=T0, purse_fen=100_000)
        authorize(db.session, w.terminal, PurchaseRequest(CARD_NUMBER, "92", 70_000, 750, 52_500, 1, T0), now=T0)
        db.session.commit()
        customer_id = w.customer.id
    make_user("fleetadmin", role="admin", customer_id=customer_id)
    make_user("root", role="sysadmin")
    return customer_id


def test_admin_sees_why_and_acknowledges(client, app, world):
    login(client, "fleetadmin", "Correct-Horse-9")
    page = client.get("/alerts/").get_data(as_text=True)
    assert "京A12345 加油 70.00 升，但油箱容量只有 60.00 升。" in page
    alert_id = int(re.search(r'data-alert-id="(\d+)"', page).group(1))
    response = client.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": csrf_token(client, "/alerts/")})
    assert response.status_code == 302
    from portal.alerts.models import Alert
    from portal.extensions import db

    with app.app_context():
        assert db.session.scalar(select(Alert.acknowledged_at)) is not None


def test_another_customers_admin_cannot_acknowledge(client, app, world, make_user):
    from portal.alerts.models import Alert
    from portal.extensions import db
    from tests.builders import create_customer, create_region

    with app.app_context():
        other = create_customer(
            db.session, create_region(db.session, "11"), name="别家物流有限公司", credit_code="91110000000000002X"
        )
        db.session.commit()
        other_id = other.id
        alert_id = db.session.scalar(select(Alert.id))
    make_user("otheradmin", role="admin", customer_id=other_id)
    login(client, "otheradmin", "Correct-Horse-9")
    assert f'data-alert-id="{alert_id}"' not in client.get("/alerts/").get_data(as_text=True)
    response = client.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": csrf_token(client, "/alerts/")})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(Alert.acknowledged_at)) is None


def test_other_roles_cannot_see_alerts(client, world):
    login(client, "root", "Correct-Horse-9")
    assert client.get("/alerts/").status_code == 403


def test_sysadmin_creates_terminal_key_shown_once_and_revokes(client, app, world):
    login(client, "root", "Correct-Horse-9")
    page = client.get("/admin/terminals").get_data(as_text=True)
    station_id = re.search(r'<option value="(\d+)"', page).group(1)
    token = csrf_token(client, "/admin/terminals")
    response = client.post("/admin/terminals", data={"csrf_token": token, "station_id": station_id, "name": "pump 7"})
    key = re.search(r'<code class="secret">(pt_[^<]+)</code>', response.get_data(as_text=True)).group(1)
    assert key not in client.get("/admin/terminals").get_data(as_text=True)
    from portal.extensions import db
    from portal.stations.models import Terminal
    from portal.stations.terminals import hash_key

    with app.app_context():
        terminal = db.session.scalar(select(Terminal).where(Terminal.name == "pump 7"))
        assert terminal.key_hash == hash_key(key)
    client.post(f"/admin/terminals/{terminal.id}/revoke", data={"csrf_token": token, "confirmed": "yes"})
    with app.app_context():
        assert db.session.get(Terminal, terminal.id).revoked_at is not None


def test_fleet_admin_cannot_manage_terminals(client, world):
    login(client, "fleetadmin", "Correct-Horse-9")
    assert client.get("/admin/terminals").status_code == 403


def _more_alerts(app, customer_id: int, count: int) -> None:
    """`count` open alerts a minute apart, like the demo fleet's ~50."""
    from datetime import timedelta

    from portal.alerts.models import Alert
    from portal.extensions import db

    with app.app_context():
        template = db.session.scalar(select(Alert))
        db.session.add_all(
            Alert(customer_id=customer_id, card_id=template.card_id, kind=template.kind, detail=template.detail, dedupe_key=f"test:{i}",
                  created_at=T0 + timedelta(minutes=i))
            for i in range(1, count + 1)
        )  # fmt: skip
        db.session.commit()


def test_alerts_are_paged_newest_first_with_every_alert_reachable_once(client, app, world):
    from portal.alerts.models import Alert
    from portal.extensions import db

    _more_alerts(app, world, 45)  # 46 in all, as in the demo
    client.set_cookie("lang", "en")
    login(client, "fleetadmin", "Correct-Horse-9")
    seen, url, pages = [], "/alerts/", 0
    while url:
        page = client.get(url).get_data(as_text=True)
        pages += 1
        assert "46 alert(s)" in page
        ids = [int(i) for i in re.findall(r'data-alert-id="(\d+)"', page)]
        assert len(ids) <= 20
        seen += ids
        found = re.search(r'<a href="([^"]+)" rel="next">', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    with app.app_context():
        newest_first = db.session.scalars(select(Alert.id).order_by(Alert.created_at.desc(), Alert.id.desc())).all()
    assert pages == 3 and seen == list(newest_first)


def test_a_forged_page_link_shows_the_first_page(client, app, world):
    login(client, "fleetadmin", "Correct-Horse-9")
    response = client.get("/alerts/?cursor=not-a-cursor")
    assert response.status_code == 303 and response.headers["Location"].endswith("/alerts/")
