"""Card controls and templates through the web."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.builders import PASSWORD
from tests.web.conftest import csrf_token, login


@pytest.fixture
def world(fleet_ids):
    return fleet_ids


def _controls(app, card_id):
    from portal.cards.models import CardControls
    from portal.extensions import db

    with app.app_context():
        return db.session.get(CardControls, card_id)


def _station_ids(app):
    from portal.extensions import db
    from portal.reference.models import Station

    with app.app_context():
        return list(db.session.scalars(select(Station.id).order_by(Station.id)))


def test_set_controls_and_see_the_pending_version(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    stations = _station_ids(app)
    data = {
        "per_purchase_limit": "500",
        "daily_amount_limit": "1,200.50",
        "daily_count_limit": "3",
        "daily_litres_limit": "150.5",
        "allowed_products": ["92", "95"],
        "allowed_station_ids": [stations[0]],
        "plate_lock": "京a·12341",
        "hours": "06:00-22:00",
        "csrf_token": csrf_token(client, "/cards/"),
    }
    response = client.post(f"/cards/{one.cards[0]}/controls", data=data)
    assert response.status_code == 302
    row = _controls(app, one.cards[0])
    assert (
        row.per_purchase_limit_fen,
        row.daily_amount_limit_fen,
        row.daily_count_limit,
        row.daily_litres_limit_ml,
    ) == (500_00, 1200_50, 3, 150_500)
    assert (row.allowed_products, row.allowed_station_ids, row.plate_lock) == (["92", "95"], [stations[0]], "京A12341")
    assert (row.hours_start_min, row.hours_end_min, row.version) == (360, 1320, 1)
    page = client.get(f"/cards/{one.cards[0]}/controls").get_data(as_text=True)
    assert 'data-testid="controls-version"' in page and 'value="500.00"' in page and 'value="06:00-22:00"' in page
    data["daily_count_limit"] = "4"
    client.post(f"/cards/{one.cards[0]}/controls", data=data)
    assert _controls(app, one.cards[0]).version == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"per_purchase_limit": "1.234"},
        {"per_purchase_limit": "-5"},
        {"daily_count_limit": "0"},
        {"hours": "25:00-26:00"},
        {"hours": "08:00-08:00"},
        {"allowed_products": ["98"]},
        {"daily_litres_limit": "x"},
        {"allowed_station_ids": ["999999"]},
    ],
)
def test_bad_controls_change_nothing(app, client, world, bad):
    one, _ = world
    login(client, one.admin, PASSWORD)
    data = {"csrf_token": csrf_token(client, "/cards/"), **bad}
    response = client.post(f"/cards/{one.cards[0]}/controls", data=data)
    assert response.status_code == 422
    assert _controls(app, one.cards[0]) is None


def test_more_than_ten_stations_are_refused(app, client, world):
    from portal.extensions import db
    from portal.reference.models import Region, Station

    one, _ = world
    with app.app_context():
        region = db.session.scalar(select(Region))
        db.session.add_all(
            [Station(code=f"ST99{i:04d}", name=f"站{i}", region_id=region.id, city="北京") for i in range(11)]
        )
        db.session.commit()
    login(client, one.admin, PASSWORD)
    stations = _station_ids(app)[:11]
    response = client.post(
        f"/cards/{one.cards[0]}/controls",
        data={"allowed_station_ids": stations, "csrf_token": csrf_token(client, "/cards/")},
    )
    assert response.status_code == 422
    assert _controls(app, one.cards[0]) is None


def test_template_create_and_apply_to_many_cards(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    token = csrf_token(client, "/cards/")
    created = client.post("/cards/templates/new", data={"name": "白班", "daily_count_limit": "2", "csrf_token": token})
    assert created.status_code == 302
    apply_url = created.headers["Location"]
    duplicate = client.post("/cards/templates/new", data={"name": "白班", "csrf_token": token})
    assert duplicate.status_code == 409
    assert client.post(apply_url, data={"csrf_token": token}).status_code == 422  # no card ticked
    applied = client.post(apply_url, data={"card_ids": one.cards, "csrf_token": token})
    assert applied.status_code == 302
    for card_id in one.cards:
        assert _controls(app, card_id).daily_count_limit == 2
    listing = client.get("/cards/templates").get_data(as_text=True)
    assert "白班" in listing
    assert client.get("/cards/").status_code == 200


def test_card_list_marks_cards_whose_chip_is_behind(app, client, world):
    one, _ = world
    login(client, one.admin, PASSWORD)
    assert 'data-testid="pending-sync"' not in client.get("/cards/").get_data(as_text=True)
    client.post(
        f"/cards/{one.cards[0]}/controls", data={"daily_count_limit": "5", "csrf_token": csrf_token(client, "/cards/")}
    )
    page = client.get("/cards/").get_data(as_text=True)
    assert page.count('data-testid="pending-sync"') == 1


def test_editing_a_template_says_which_cards_keep_old_limits_and_reapplies_once(app, client, world):
    """Cards a template was applied to keep its old values after an edit: the edit page lists them,
    saving says so, and the apply page offers them ticked; applying twice changes nothing more."""
    one, _ = world
    login(client, one.admin, PASSWORD)
    token = csrf_token(client, "/cards/")
    apply_url = client.post(
        "/cards/templates/new", data={"name": "夜班", "allowed_products": ["92"], "csrf_token": token}
    ).headers["Location"]
    first, second = one.cards[0], one.cards[1]
    assert client.post(apply_url, data={"card_ids": [first, second], "csrf_token": token}).status_code == 302
    edit_url = apply_url.removesuffix("/apply")
    edit_page = client.get(edit_url).get_data(as_text=True)
    assert 'data-testid="template-applied"' in edit_page and "92#汽油" in edit_page
    # The second card gets its own limits: it no longer follows the template.
    client.post(f"/cards/{second}/controls", data={"daily_count_limit": "5", "csrf_token": token})

    saved = client.post(
        edit_url, data={"name": "夜班", "allowed_products": ["92", "95"], "csrf_token": token}, follow_redirects=True
    )
    page = saved.get_data(as_text=True)
    assert "1 张卡在修改前应用了此模板" in page and 'data-testid="template-behind"' in page
    assert _controls(app, first).allowed_products == ["92"]  # nothing changed on the card yet
    with app.app_context():
        from portal.cards.models import Card
        from portal.extensions import db

        first_number, second_number = db.session.get(Card, first).number, db.session.get(Card, second).number
    behind = page.split('data-testid="template-behind"')[1].split("</section>")[0]
    assert first_number[-4:] in behind and second_number[-4:] not in behind
    assert re.search(
        rf"<input[^>]*\bchecked\b[^>]*value=\"{first}\"|<input[^>]*value=\"{first}\"[^>]*\bchecked\b", page
    )
    assert not re.search(
        rf"<input[^>]*\bchecked\b[^>]*value=\"{second}\"|<input[^>]*value=\"{second}\"[^>]*\bchecked\b", page
    )
    assert "92#汽油, 95#汽油" in page  # product names, not codes

    assert client.post(apply_url, data={"card_ids": [first], "csrf_token": token}).status_code == 302
    row = _controls(app, first)
    assert (row.allowed_products, row.version) == (["92", "95"], 2)
    assert client.post(apply_url, data={"card_ids": [first], "csrf_token": token}).status_code == 302
    assert _controls(app, first).version == 2  # idempotent
    assert 'data-testid="template-behind"' not in client.get(apply_url).get_data(as_text=True)
