"""The README's Configuration table lists exactly the settings config.py reads from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import config

README = Path(__file__).resolve().parents[2] / "README.md"
#: Chooses the settings class; read by load_config itself, not one of _ENV_SETTINGS.
NOT_A_SETTING = {"PORTAL_ENV"}


def documented() -> set[str]:
    """Every `NAME` in the first column of the table under "## Configuration"."""
    section = README.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "no settings table under ## Configuration"
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])}


def test_every_setting_a_deployer_may_set_is_in_the_table():
    assert set(config._ENV_SETTINGS) - documented() == set()


def test_every_setting_in_the_table_exists():
    assert documented() - set(config._ENV_SETTINGS) - NOT_A_SETTING == set()
