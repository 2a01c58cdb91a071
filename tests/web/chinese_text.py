"""What a Chinese page shows a reader, and the English words or internal keys in it (shared by the
Chinese-page and flashed-figures tests)."""

from __future__ import annotations

import html
import re

#: Codes, units and brands a Chinese page may show as they are.
ALLOWED_WORDS = {
    "IC", "API", "CSV", "XLSX", "Excel", "UTF", "GB", "UTC", "ID", "PIN", "JSON", "NUL", "Retry-After",
    "HTTP", "HTTPS", "URL", "SMS", "CNY", "OK", "PDF", "km", "ml", "L",
    "Webhook",  # the protocol's name, as API is
    "English",  # the language switch names English in English
}  # fmt: skip
#: Endpoints that are not pages (downloads, images, health checks for machines, the terminal API's
#: document and files, and the customer API `api.`: JSON, and a docs page that is the API's English contract).
NOT_PAGES = re.compile(r"(_export|captcha_image|^static$|^ops\.|^terminal_api\.|^terminal_api_docs\.openapi$|^api\.)")

CODE = re.compile(r"<code\b[^>]*>(.*?)</code>", re.S | re.I)
SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
VISIBLE_ATTRIBUTE = re.compile(r'\b(?:title|placeholder|aria-label|alt)="([^"]*)"', re.I)
TAG = re.compile(r"<[^>]+>")
TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-#.@/:+]*")
SNAKE_KEY = re.compile(r"^[a-z]+(?:_[a-z0-9]+)+$")
#: A figure cell (table number, summary tile) of four or more digits without a thousands separator.
UNGROUPED_FIGURE = re.compile(r'class="(?:num|tile-figure)[^"]*"[^>]*>\s*([-+]?\d{4,})\s*<')


def visible_text(page: str) -> str:
    """What a reader sees: text between tags plus titles, placeholders and alternative texts.
    Text marked as code (<code>: a command, a job's name) is kept apart, after a NUL."""
    page = SCRIPT_OR_STYLE.sub(" ", page)
    code = " ".join(CODE.findall(page))
    page = CODE.sub(" ", page)
    attributes = " ".join(VISIBLE_ATTRIBUTE.findall(page))
    return html.unescape(TAG.sub(" ", page) + " " + attributes + "\0" + TAG.sub(" ", code))


def offending_words(text: str, data: set[str]) -> set[str]:
    """English words and internal keys in `text`; `data` holds the world's own Latin values. In code
    (after a NUL: see visible_text) only internal keys count: a command may be English."""
    text, _, code = text.partition("\0")
    found = {token for token in TOKEN.findall(html.unescape(code)) if SNAKE_KEY.match(token) and token not in data}
    for token in TOKEN.findall(text):
        token = token.strip(".:/-+")
        if not token or token in data or token in ALLOWED_WORDS:
            continue
        if SNAKE_KEY.match(token):
            found.add(token)  # an internal key (daily_amount_limit_fen, card_lost) whatever else
        elif any(c.isdigit() for c in token) or "@" in token or "://" in token:
            continue  # card numbers, plates, station codes, bank references, e-mail, links
        elif sum(c.isalpha() for c in token) >= 2:
            found.add(token)
    return found
