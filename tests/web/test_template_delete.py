"""Deleting a control template: a confirmation page naming the cards it was applied to, and a POST
that acts only with that page's confirmation."""

from __future__ import annotations

import pytest

from tests.builders import PASSWORD
from tests.web.conftest import csrf_token, login


@pytest.fixture
def world(app, fleet_ids):
    from portal.cards import services
    from portal.cards.controls import Controls
    from portal.cards.models import Card
    from portal.extensions import clock, db

    one, _ = fleet_ids
    with app.app_context():
        template = services.save_template(
            db.session, one.customer, "夜班", Controls(daily_count_limit=2), actor_id=None, now=clock().now()
        )
        card = db.session.get(Card, one.cards[0])
        services.apply_template(db.session, template, [card], actor_id=None, now=clock().now())
        db.session.commit()
        return one, template.id, card.number


def _template_exists(app, template_id):
    from portal.cards.models import ControlTemplate
    from portal.extensions import db

    with app.app_context():
        return db.session.get(ControlTemplate, template_id) is not None


def test_delete_asks_first_naming_the_cards_and_a_bare_post_changes_nothing(app, client, world):
    one, template_id, number = world
    login(client, one.admin, PASSWORD)
    assert f"/cards/templates/{template_id}/delete" in client.get("/cards/templates").get_data(as_text=True)
    client.set_cookie("lang", "en")
    page = client.get(f"/cards/templates/{template_id}/delete")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="template-cards"' in text
    assert number[-4:] in text and "keep the limits" in text
    token = csrf_token(client, "/cards/templates")
    bare = client.post(f"/cards/templates/{template_id}/delete", data={"csrf_token": token})
    assert bare.status_code == 303 and bare.headers["Location"].endswith(f"/cards/templates/{template_id}/delete")
    assert client.post(f"/cards/templates/{template_id}/delete", data={"confirmed": "yes"}).status_code == 400
    assert _template_exists(app, template_id)


def test_delete_with_the_confirmation_removes_the_template_and_cards_keep_their_limits(app, client, world):
    from portal.cards import services
    from portal.extensions import db

    one, template_id, _ = world
    login(client, one.admin, PASSWORD)
    token = csrf_token(client, "/cards/templates")
    done = client.post(f"/cards/templates/{template_id}/delete", data={"csrf_token": token, "confirmed": "yes"})
    assert done.status_code == 302 and not _template_exists(app, template_id)
    with app.app_context():
        assert services.controls_of(db.session, one.cards[0]).daily_count_limit == 2
