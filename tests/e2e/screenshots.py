"""Take the README's screenshots with the browser harness (admin home on a desktop and a phone).

Run `.venv/bin/python -m tests.e2e.screenshots`; it writes docs/screenshot-home.png and
docs/screenshot-phone.png.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.e2e.harness import launch_chromium, new_page, sign_in, start_server

DOCS = Path(__file__).resolve().parents[2] / "docs"


def main() -> int:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "portal.db")
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                desktop = new_page(browser, server)
                sign_in(desktop, server.world.admin, server.world.password)
                desktop.screenshot(path=str(DOCS / "screenshot-home.png"), full_page=True)

                phone = new_page(browser, server, phone=True)
                sign_in(phone, server.world.admin, server.world.password)
                phone.screenshot(path=str(DOCS / "screenshot-phone.png"))
                browser.close()
        finally:
            server.stop()
    print(f"wrote {DOCS / 'screenshot-home.png'} and {DOCS / 'screenshot-phone.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
