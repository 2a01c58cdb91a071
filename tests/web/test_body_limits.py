"""Request bodies are bounded before they are parsed: pages (the funds CSV upload is the largest)
at MAX_CONTENT_LENGTH, 2 MB; the terminal API at 64 KB. Too large gets a clear 413 page in the
user's language, never a 500."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select

from portal.funds.models import FundsBatch
from tests.builders import funds_customers
from tests.web.conftest import csrf_token, peek, signed_in

LIMIT = 2 * 1024 * 1024


@pytest.fixture
def world(session, clock):
    w = funds_customers(session, clock.now())
    session.commit()
    return w


def upload(client, size: int):
    """A CSV upload whose whole body is `size` bytes, encoded here in memory (the test client would
    spool a large file to a temporary file it never closes)."""
    token = csrf_token(client, "/funds/allocate")
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\ncard_number,amount\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    body = head + b"#" * (size - len(head) - len(tail)) + tail
    return client.post("/funds/allocate/upload", data=body, content_type=f"multipart/form-data; boundary={BOUNDARY}")


BOUNDARY = "portal-test-boundary"


def test_pages_accept_at_most_2_mb(app):
    assert app.config["MAX_CONTENT_LENGTH"] == LIMIT


@pytest.mark.parametrize(
    ("language", "message"),
    [("zh_CN", "提交的内容过大：最多 2 MB。"), ("en", "What you sent is too large: at most 2 MB.")],
)
def test_an_upload_over_2_mb_gets_a_413_page_in_the_users_language(client, session, world, language, message):
    client.set_cookie("lang", language)
    signed_in(client, "admin_a")
    response = upload(client, LIMIT + 1)
    assert response.status_code == 413
    assert message in response.get_data(as_text=True)
    assert peek(session, lambda: session.scalar(select(func.count(FundsBatch.id)))) == 0


def test_an_upload_within_the_bound_is_read_and_judged_by_the_file_rules(client, world):
    client.set_cookie("lang", "en")
    signed_in(client, "admin_a")
    response = upload(client, LIMIT - 4096)  # under the body bound, over the CSV file's own 1 MB
    assert response.status_code == 422
    assert "The file is too large." in response.get_data(as_text=True)


def test_any_page_refuses_a_body_over_the_bound_before_parsing_it(client):
    response = client.post("/auth/sign-in", data={"username": "x" * LIMIT, "password": "x"})
    assert response.status_code == 413
    assert "提交的内容过大：最多 2 MB。" in response.get_data(as_text=True)


def test_json_clients_get_the_bound_in_json(client):
    response = client.post("/auth/sign-in", data={"username": "x" * LIMIT}, headers={"Accept": "application/json"})
    assert response.status_code == 413
    assert response.get_json()["error"] == {"code": 413, "message": "提交的内容过大：最多 2 MB。"}


def test_the_bound_is_a_setting(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    response = client.post("/auth/sign-in", data={"username": "x" * (65 * 1024)})
    assert response.status_code == 413 and "64 KB" in response.get_data(as_text=True)


def test_the_terminal_api_keeps_its_own_64_kb_bound(client):
    response = client.post(
        "/api/terminal/v1/purchases", data=b"{" + b" " * (100 * 1024) + b"}", content_type="application/json"
    )
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "body_too_large"


GUNICORN_APP = 'portal:create_app("testing", DATABASE_URL={url!r})'


@pytest.fixture
def gunicorn(database_url, db_engine):
    """The app under gunicorn (as in production), on a free local port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    command = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "--control-socket", "",
               GUNICORN_APP.format(url=database_url)]  # fmt: skip
    server = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):  # until it listens (a few seconds at most)
            if server.poll() is not None:
                pytest.fail("gunicorn did not start")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                threading.Event().wait(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_browser_sending_far_more_gets_the_413_page_not_a_reset(gunicorn):
    connection = http.client.HTTPConnection("127.0.0.1", gunicorn, timeout=30)
    body = b"username=" + b"x" * (12 * LIMIT)
    connection.request(
        "POST", "/auth/sign-in", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    response = connection.getresponse()
    assert response.status == 413
    assert "提交的内容过大：最多 2 MB。" in response.read().decode()
