"""A unique index catching what a check-then-insert missed (two requests at once) is a typed
refusal or a 409 `conflict` problem, never a 500. The race is made deterministic: the check runs as
if the other request had not committed yet (it is patched to look at nothing), and on PostgreSQL two
threads really race."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import IntegrityError

from tests.web.api_cases import problem
from tests.web.api_support import bearer

API = "/api/v1"


@pytest.fixture
def h(api_world):
    return bearer(api_world.token)


@pytest.fixture
def blind_plate_check(monkeypatch):
    """`_check_plate` normalises the plate but does not see the other vehicle (as in a race)."""
    from portal.drivers import services, validation

    monkeypatch.setattr(
        services, "_check_plate", lambda session, customer_id, plate, vehicle=None: validation.check_plate(plate)
    )


def test_a_plate_registered_meanwhile_is_plate_taken_on_add_and_on_change(client, h, blind_plate_check):
    body = {"plate": "京d·r1234", "tank_ml": 55_000}
    assert client.post(f"{API}/vehicles", json=body, headers=h).status_code == 201
    problem(client.post(f"{API}/vehicles", json=body, headers=h), 409, "plate_taken")
    other = client.post(f"{API}/vehicles", json={**body, "plate": "京d·r5678"}, headers=h).get_json()
    problem(client.patch(f"{API}/vehicles/{other['id']}", json={"plate": "京d·r1234"}, headers=h), 409, "plate_taken")
    assert client.get(f"{API}/vehicles/{other['id']}", headers=h).get_json()["plate"] == "京DR5678"


def test_a_template_name_taken_meanwhile_is_duplicate_name(app, api_world, monkeypatch):
    from portal.cards import services
    from portal.cards.controls import Controls
    from portal.cards.errors import DuplicateName
    from portal.extensions import clock, db

    customer_id = api_world.customer_id
    with app.app_context():
        services.save_template(db.session, customer_id, "白班", Controls(), actor_id=None, now=clock().now())
        session = db.session
        monkeypatch.setattr(session, "scalar", lambda *a, **k: None)  # the name check sees nothing (a race)
        with pytest.raises(DuplicateName):
            services.save_template(session, customer_id, "白班", Controls(), actor_id=None, now=clock().now())
        monkeypatch.undo()
        session.rollback()


def test_any_other_integrity_error_is_a_409_conflict_problem(client, h, monkeypatch):
    from portal.drivers import services

    def clash(*args, **kwargs):
        raise IntegrityError("INSERT", {}, Exception("duplicate key value violates unique constraint"))

    monkeypatch.setattr(services, "add_vehicle", clash)
    problem(client.post(f"{API}/vehicles", json={"plate": "京d·r9999", "tank_ml": 55_000}, headers=h), 409, "conflict")


@pytest.mark.postgres
@pytest.mark.slow
def test_two_posts_of_one_plate_at_once_are_201_and_409(app, api_world):
    start = threading.Barrier(2)
    for n in range(6):
        body, answers = {"plate": f"京E·R{n:04d}", "tank_ml": 50_000}, [None, None]

        def run(i: int, body=body, answers=answers) -> None:
            start.wait(timeout=30)
            answers[i] = (
                app.test_client().post(f"{API}/vehicles", json=body, headers=bearer(api_world.token)).status_code
            )

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers) == [201, 409], (n, answers)
