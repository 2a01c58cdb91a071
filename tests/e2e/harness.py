"""The browser-test harness: the real app served on a free local port over its own migrated SQLite
file, and Debian's Chromium driven by Playwright. Used by conftest.py fixtures and by screenshots.py."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from portal.db import make_engine
from portal.schema import upgrade
from tests.builders import Showcase, showcase

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # one line per request would drown test output
        pass


@dataclass
class LiveServer:
    """A running portal: `url` to browse, `app` to reach the database, `world` for who can sign in."""

    url: str
    app: Flask
    world: Showcase  # or what start_server's `populate` returned
    _server: BaseWSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self.app.extensions["portal.db"][0].dispose()


def _showcase(session, *, now, rounds) -> Showcase:
    return showcase(session, now=now, rounds=rounds)


def start_server(db_file: Path, populate: Callable = _showcase, **config) -> LiveServer:
    """Migrate a fresh SQLite file, fill it with `populate(session, now=, rounds=)` (the test world
    by default), and serve the app in a thread."""
    from portal import create_app
    from portal.extensions import clock, db

    url = f"sqlite:///{db_file}"
    engine = make_engine(url)
    with engine.begin() as conn:
        upgrade(conn)
    engine.dispose()

    app = create_app("testing", DATABASE_URL=url, **config)
    with app.app_context():
        world = populate(db.session, now=clock().now(), rounds=app.config["BCRYPT_ROUNDS"])
        db.session.commit()

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    return LiveServer(f"http://127.0.0.1:{server.server_port}", app, world, server, thread)


class ChromiumMissing(RuntimeError):
    pass


def launch_chromium(playwright):
    """Debian's Chromium, headless. Missing is an error, not a skip: CI installs it (.ci/run)."""
    if not os.access(CHROMIUM, os.X_OK):
        raise ChromiumMissing(
            f"{CHROMIUM} not found: browser tests need Debian's chromium package (apt-get install chromium); "
            "CI installs it in .ci/run"
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def new_page(browser, server: LiveServer, *, phone: bool = False, locale: str = "zh-CN"):
    """A page in a fresh browser context (no cookies) whose relative URLs go to `server`."""
    options = (
        {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
        if phone
        else {"viewport": DESKTOP}
    )
    context = browser.new_context(base_url=server.url, locale=locale, **options)
    return context.new_page()


def sign_in(page, username: str, password: str) -> None:
    """Sign in through the real form, as a person would; waits for the page after it."""
    page.goto("/auth/sign-in")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
