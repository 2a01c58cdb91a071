"""Every message the code and templates mark for translation has a zh_CN translation.

Messages are extracted the way `make translations-update` does (Babel's API with babel.cfg), plus a
plain scan of the Python sources for `_("...")` / `_l("...")` calls that Babel's extractor does not
see (inside f-strings). The test lists every message without a (non-fuzzy) zh_CN translation, and
every translation whose %(name)s placeholders differ from its message's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
ZH_CN = ROOT / "portal" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
#: The keywords `make translations-update` passes (-k _l -k lazy_gettext) plus Babel's defaults.
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2), "lazy_ngettext": (1, 2)}
LITERAL_CALL = re.compile(r"""\b_l?\(\s*(?P<q>["'])(?P<text>(?:(?!(?P=q)).)*[A-Za-z](?:(?!(?P=q)).)*)(?P=q)\s*[,)]""")
PLACEHOLDER = re.compile(r"%\((\w+)\)")


def extracted_messages() -> dict[str, str]:
    """msgid -> the first file that uses it."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, str] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault(message if isinstance(message, str) else message[0], filename)
    for path in sorted((ROOT / "portal").rglob("*.py")):
        for match in LITERAL_CALL.finditer(path.read_text(encoding="utf-8")):
            text = match.group("text")
            if "\\" not in text:  # escapes: left to Babel, which reads them right
                found.setdefault(text, str(path.relative_to(ROOT)))
    return found


@pytest.fixture(scope="module")
def catalog():
    with open(ZH_CN, "rb") as po:
        return read_po(po, locale="zh_CN")


def test_every_message_has_a_zh_cn_translation(catalog):
    missing = []
    for msgid, where in sorted(extracted_messages().items()):
        entry = catalog.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(f"{where}: {msgid!r}")
    assert not missing, f"{len(missing)} message(s) without a zh_CN translation:\n" + "\n".join(missing)


def test_translations_keep_the_placeholders(catalog):
    wrong = [
        f"{entry.id!r} -> {entry.string!r}"
        for entry in catalog
        if entry.id
        and entry.string
        and set(PLACEHOLDER.findall(str(entry.id))) != set(PLACEHOLDER.findall(entry.string))
    ]
    assert not wrong, "\n".join(wrong)
