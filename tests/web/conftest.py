"""Web-test helpers: users to sign in as, and CSRF tokens read from the page like a browser would."""

from __future__ import annotations

import re

import pytest

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client, path: str = "/auth/sign-in") -> str:
    page = client.get(path).get_data(as_text=True)
    match = CSRF_META.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, username: str, password: str):
    return client.post(
        "/auth/sign-in",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
    )


@pytest.fixture
def make_user(app):
    """Create a user through the auth service; returns the User."""
    from portal.auth import services
    from portal.extensions import clock, db

    def make(username="user1", password="Correct-Horse-9", role="sysadmin", **fields):
        with app.app_context():
            user = services.create_user(
                db.session, username=username, password=password, role=role, rounds=4, now=clock().now(), **fields
            )
            db.session.commit()
            return user

    return make
