"""Layout by geometry, not by looking: every page of the menu, as each role, on a laptop (1366x768)
and a phone (390x844), measured in the browser.

On every page: the document is no wider than the viewport; every amount (¥1,234.56) sits on one
line and inside the viewport (not cut off or scrolled away to the right); no table cell is so
narrow that its text wraps to a character or so per line. On a phone, wide tables turn into a list
of cards, one per row, each value labelled by its column.

The world is the demo's (months of deposits, loads and purchases), so amounts are as long as a
fleet's real ones; the checks would pass trivially on empty accounts.
"""

from __future__ import annotations

import pytest

from portal.demo import DemoOptions, build_demo
from tests.e2e.harness import start_server

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
ROLES = ("admin", "driver", "staff", "sysadmin")

#: Runs in the page; returns one sentence per problem found.
MEASURE = """() => {
  const problems = [];
  const root = document.documentElement;
  const viewport = root.clientWidth;
  if (root.scrollWidth > viewport) problems.push(`the page is ${root.scrollWidth}px wide in a ${viewport}px viewport`);

  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const lineHeight = (el) => {
    const style = getComputedStyle(el);
    const height = parseFloat(style.lineHeight);
    return isNaN(height) ? 1.2 * parseFloat(style.fontSize) : height;
  };
  const texts = (within) => {
    const walker = document.createTreeWalker(within, NodeFilter.SHOW_TEXT);
    const found = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.data.trim() && shown(node.parentElement)) found.push(node);
    }
    return found;
  };

  for (const node of texts(document.body)) {
    for (const match of node.data.matchAll(/-?¥[0-9,]+[.][0-9]{2}/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const box = range.getBoundingClientRect();
      if (box.width === 0) continue;
      const line = lineHeight(node.parentElement);
      if (box.height > 1.5 * line) {
        problems.push(`${match[0]} breaks over lines (${Math.round(box.height)}px high, one line is ${Math.round(line)}px)`);
      }
      if (box.left < 0 || box.right > viewport + 0.5) {
        problems.push(`${match[0]} is outside the viewport (${Math.round(box.left)}px to ${Math.round(box.right)}px)`);
      }
    }
  }

  for (const cell of document.querySelectorAll("td, th")) {
    if (!shown(cell)) continue;
    const tops = [];
    let chars = 0;
    for (const node of texts(cell)) {
      chars += node.data.replace(/\\s/g, "").length;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const rect of range.getClientRects()) if (rect.width > 0) tops.push(rect.top);
    }
    tops.sort((a, b) => a - b);
    const gap = 0.6 * lineHeight(cell);
    const lines = tops.filter((top, i) => i === 0 || top - tops[i - 1] > gap).length;
    if (chars >= 2 && lines > 1 && chars / lines < 2) {
      const width = Math.round(cell.getBoundingClientRect().width);
      problems.push(`a ${width}px cell wraps "${cell.innerText.trim().slice(0, 24)}" to ${lines} lines`);
    }
  }
  return problems;
}"""


def _demo(session, *, now, rounds):
    """One customer with months of history: long amounts, long station and company names."""
    result = build_demo(session, DemoOptions(customers=1, cards=6, months=3), now=now, rounds=rounds)
    return {login.role: login for login in reversed(result.logins)}  # the first login of each role


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("layout") / "portal.db", populate=_demo)
    yield server
    server.stop()


def _page(browser, server, viewport):
    phone = viewport == PHONE
    options = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2} if phone else {}
    context = browser.new_context(base_url=server.url, locale="zh-CN", viewport=viewport, **options)
    return context.new_page()


def _sign_in(page, login) -> None:
    page.goto("/auth/sign-in")
    page.fill("input[name=username]", login.username)
    page.fill("input[name=password]", login.password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")


def _menu_pages(page) -> list[str]:
    links = page.eval_on_selector_all("nav a.menu-link", "links => links.map(a => a.getAttribute('href'))")
    return list(dict.fromkeys(["/", *links]))


def _problems(page, paths) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, path
        problems = page.evaluate(MEASURE)
        if problems:
            found[path] = sorted(set(problems))[:6]
    return found


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_the_screen(demo_server, browser, role, viewport):
    page = _page(browser, demo_server, viewport)
    try:
        _sign_in(page, demo_server.world[role])
        paths = _menu_pages(page)
        assert len(paths) > 2, paths
        assert _problems(page, paths) == {}
    finally:
        page.context.close()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_english_pages_fit_the_screen(demo_server, browser, viewport):
    """English words are longer than Chinese ones: the fleet admin's pages in English."""
    page = _page(browser, demo_server, viewport)
    try:
        _sign_in(page, demo_server.world["admin"])
        with page.expect_navigation():
            page.click(".lang-switch button[value=en]")
        assert page.locator("html").get_attribute("lang") == "en"
        assert _problems(page, _menu_pages(page)) == {}
    finally:
        page.context.close()


def test_purchases_are_cards_with_their_amount_on_a_phone(demo_server, browser):
    page = _page(browser, demo_server, PHONE)
    try:
        _sign_in(page, demo_server.world["admin"])
        page.goto("/queries/purchases")
        rows = page.locator("[data-testid=rows] tbody tr")
        assert rows.count() > 5
        assert page.locator("[data-testid=rows] thead").is_hidden()
        for i in range(rows.count()):
            card = rows.nth(i)
            box = card.bounding_box()
            assert card.evaluate("row => getComputedStyle(row).display") != "table-row"
            assert 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"]
            amount = card.locator("td[data-label='金额']")
            assert amount.is_visible()
            assert amount.inner_text().strip().lstrip("-").startswith("¥")
            cell = amount.bounding_box()
            assert 0 <= cell["x"] and cell["x"] + cell["width"] <= PHONE["width"]
    finally:
        page.context.close()
