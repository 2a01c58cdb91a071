"""Lists that grow are paged, never cut off silently: more rows than a page, built with bulk inserts;
the last row is reachable, the page says how many there are, and the card list costs a fixed number
of statements whatever the number of cards."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import pytest
from sqlalchemy import event, insert, select

from tests.builders import PASSWORD
from tests.web.conftest import login

MANY = 120  # more than two pages of 50


@pytest.fixture
def world(fleet_ids):
    return fleet_ids


def _user_id(s, username):
    from portal.auth.models import User

    return s.scalar(select(User.id).where(User.username == username))


def _add_cards(app, customer_id, count, **fields):
    from portal.cards.models import Card
    from portal.extensions import db

    rows = [
        {"number": f"9{customer_id:03d}{i:015d}", "customer_id": customer_id, "role": "sub", "status": "active",
         "nickname": f"车{i:03d}", "expires_on": date(2030, 1, 1), **fields}
        for i in range(count)
    ]  # fmt: skip
    with app.app_context():
        db.session.execute(insert(Card), rows)
        db.session.commit()
        return [r["number"] for r in rows]


@contextlib.contextmanager
def _counting(app):
    """Statements run while inside the block."""
    from portal.extensions import db

    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_cards_index_is_paged_and_searchable_and_reaches_the_last_card(app, client, world):
    one, _ = world
    numbers = _add_cards(app, one.customer, MANY)
    login(client, one.admin, PASSWORD)
    client.set_cookie("lang", "en")
    first = client.get("/cards/").get_data(as_text=True)
    total = MANY + 2  # the fleet's own two sub-cards
    assert f"1–50 of {total}" in first and 'rel="next"' in first
    last = client.get("/cards/?page=3").get_data(as_text=True)
    assert f"101–{total} of {total}" in last
    pages = [client.get(f"/cards/?page={n}").get_data(as_text=True) for n in (1, 2, 3)]
    assert all(sum(f"车{i:03d}<" in page for page in pages) == 1 for i in range(MANY))  # each card on one page
    found = client.get(f"/cards/?q={numbers[-1]}").get_data(as_text=True)
    assert "1–1 of 1" in found
    assert client.get("/cards/?page=nonsense").status_code == 200
    assert client.get("/cards/?page=999").status_code == 200


def test_cards_index_costs_the_same_statements_for_5_cards_or_a_full_page(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    client.get("/cards/")
    with _counting(app) as few:
        assert client.get("/cards/").status_code == 200
    _add_cards(app, one.customer, MANY, driver_id=one.driver, vehicle_id=one.vehicle)
    with _counting(app) as many:
        assert client.get("/cards/").status_code == 200
    assert len(many) == len(few) < 15, many


def test_drivers_and_vehicles_are_paged_each_and_searchable(app, client, world):
    from portal.drivers.models import Driver, Vehicle
    from portal.extensions import db

    one, _ = world
    with app.app_context():
        db.session.execute(
            insert(Driver),
            [{"customer_id": one.customer, "name": f"司机{i:03d}", "phone": f"139{i:08d}"} for i in range(MANY)],
        )
        db.session.execute(
            insert(Vehicle),
            [{"customer_id": one.customer, "plate": f"京B{i:05d}", "tank_ml": 60_000} for i in range(MANY)],
        )
        db.session.commit()
    login(client, one.admin, PASSWORD)
    client.set_cookie("lang", "en")
    page = client.get("/drivers/").get_data(as_text=True)
    assert 'data-testid="drivers-pager"' in page and f"of {MANY + 1}" in page
    assert 'data-testid="vehicles-pager"' in page and "vpage=2" in page
    last = client.get("/drivers/?page=3&vpage=3").get_data(as_text=True)
    assert f"101–{MANY + 1} of {MANY + 1}" in last
    assert "京B00119" in last or "京B00119" in client.get("/drivers/?vpage=3").get_data(as_text=True)
    by_phone = client.get("/drivers/?q=13900000119").get_data(as_text=True)
    assert "司机119" in by_phone and "司机118" not in by_phone


def test_terminals_are_paged_and_searchable(app, client, db, clock):
    from portal.stations.models import Terminal
    from tests.builders import create_user, station_setup

    def build(s):
        world = station_setup(s, now=clock.now())
        create_user(s, "root", "sysadmin", clock.now())
        s.execute(
            insert(Terminal),
            [{"station_id": world.terminal.station_id, "name": f"加油机{i:03d}", "key_prefix": f"k{i:05d}",
              "key_hash": f"h{i:063d}"} for i in range(MANY)],
        )  # fmt: skip
        return len(s.scalars(select(Terminal.id)).all())

    total = db(build)
    login(client, "root", PASSWORD)
    client.set_cookie("lang", "en")
    page = client.get("/admin/terminals").get_data(as_text=True)
    assert f"1–50 of {total}" in page and 'rel="next"' in page
    assert "加油机000" in client.get("/admin/terminals?page=3").get_data(as_text=True)
    found = client.get("/admin/terminals?q=加油机007").get_data(as_text=True)
    assert "1–1 of 1" in found and "加油机007" in found


def test_deposits_beyond_100_are_reached_page_by_page(app, client, world, clock):
    from portal.extensions import db
    from portal.funds.models import Deposit

    one, _ = world
    now = clock.now()
    with app.app_context():
        staff = _user_id(db.session, one.staff)
        db.session.execute(
            insert(Deposit),
            [{"key": f"k{i:05d}", "customer_id": one.customer, "amount": 100 + i, "bank_reference": f"BOC-{i:04d}",
              "transfer_id": f"t{i}", "recorded_by": staff, "recorded_at": now - timedelta(minutes=i)}
             for i in range(150)],
        )  # fmt: skip
        db.session.commit()
    for user in (one.admin, one.staff):
        client.set_cookie("lang", "en")
        login(client, user, PASSWORD)
        first = client.get("/funds/deposits").get_data(as_text=True)
        assert "1–50 of 150" in first and "BOC-0000" in first
        oldest = client.get("/funds/deposits?page=3").get_data(as_text=True)
        assert "BOC-0149" in oldest  # beyond the old cut at 100
        found = client.get("/funds/deposits?q=BOC-0120").get_data(as_text=True)
        assert "1–1 of 1" in found
        client.post("/auth/sign-out", data={"csrf_token": _token(client)})


def _token(client):
    from tests.web.conftest import csrf_token

    return csrf_token(client, "/")


def test_support_actions_beyond_200_are_reached_page_by_page(app, client, world, clock):
    from portal.audit.models import AuditEvent
    from portal.customers.models import Customer
    from portal.extensions import db

    one, _ = world
    now = clock.now()
    with app.app_context():
        region = db.session.get(Customer, one.customer).region_id
        db.session.execute(
            insert(AuditEvent),
            [{"at": now - timedelta(minutes=i), "region_id": region, "customer_id": one.customer,
              "action": "support.unlock", "detail": {"username": f"user{i:03d}", "staff": one.staff}}
             for i in range(230)],
        )  # fmt: skip
        db.session.commit()
    login(client, one.staff, PASSWORD)
    client.set_cookie("lang", "en")
    first = client.get("/support/audit").get_data(as_text=True)
    assert "1–50 of 230" in first and "user000" in first
    last = client.get("/support/audit?page=5").get_data(as_text=True)
    assert "user229" in last  # beyond the old cut at 200


def test_an_open_loss_report_stays_reachable_behind_many_closed_ones(app, client, world, clock):
    from portal.cards.models import Card, LossReport
    from portal.extensions import db

    one, _ = world
    now = clock.now()
    _add_cards(app, one.customer, 70, status="active")
    with app.app_context():
        cards = db.session.scalars(
            select(Card).where(Card.customer_id == one.customer, Card.nickname != "").order_by(Card.id)
        ).all()
        rows = [
            {"card_id": card.id, "customer_id": one.customer, "reason": "lost", "status": "cancelled",
             "reported_at": now - timedelta(hours=i), "effective_at": now, "replaceable_from": now,
             "cancelled_at": now}
            for i, card in enumerate(cards[:69])
        ]  # fmt: skip
        oldest = cards[69]
        rows.append({"card_id": oldest.id, "customer_id": one.customer, "reason": "lost", "status": "open",
                     "reported_at": now - timedelta(days=30), "effective_at": now, "replaceable_from": now})  # fmt: skip
        db.session.execute(insert(LossReport), rows)
        db.session.commit()
        number = oldest.number
    login(client, one.admin, PASSWORD)
    client.set_cookie("lang", "en")
    first = client.get("/cards/loss").get_data(as_text=True)
    assert "1–50 of 70" in first and 'data-testid="reports-pager"' in first
    grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    assert grouped in first  # the open report comes first, not cut off at 50
    assert "51–70 of 70" in client.get("/cards/loss?page=2").get_data(as_text=True)
