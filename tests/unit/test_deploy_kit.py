"""The deployment kit agrees with the code: every `flask --app portal ...` command that
docs/operations.md or a systemd unit in deploy/ runs exists, and the web unit serves the app the
README's production recipe serves."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import click
import pytest
from flask.cli import FlaskGroup, ScriptInfo

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OPERATIONS = ROOT / "docs" / "operations.md"
FLASK_COMMAND = re.compile(r"flask --app portal ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)")


def units() -> dict[str, configparser.ConfigParser]:
    parsed = {}
    for path in sorted(DEPLOY.glob("portal-*.*")):
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        parser.optionxform = str
        parser.read(path, encoding="utf-8")
        parsed[path.name] = parser
    return parsed


def mentioned_commands() -> set[tuple[str, ...]]:
    texts = [OPERATIONS.read_text(encoding="utf-8")] + [p.read_text(encoding="utf-8") for p in DEPLOY.glob("portal-*")]
    return {tuple(match.split()) for text in texts for match in FLASK_COMMAND.findall(text)}


@pytest.fixture(scope="module")
def cli():
    from portal import create_app

    info = ScriptInfo(create_app=lambda: create_app("testing", DATABASE_URL="sqlite://"))
    group = FlaskGroup(create_app=info.create_app)
    with click.Context(group, obj=info) as ctx:  # on exit, pops the app context get_command pushes
        yield group, ctx


def test_the_kit_has_web_jobs_and_backup_units():
    assert {"portal-web.service", "portal-jobs.service", "portal-backup.service", "portal-backup.timer"} <= set(units())
    docs = OPERATIONS.read_text(encoding="utf-8")
    for name in units():
        assert name in docs, f"docs/operations.md does not mention deploy/{name}"


def test_every_command_the_docs_and_units_run_exists(cli):
    group, ctx = cli
    commands = mentioned_commands()
    assert ("ledger", "verify") in commands and ("db", "upgrade") in commands
    for words in sorted(commands):
        command = group.get_command(ctx, words[0])
        assert command is not None, f"flask --app portal {words[0]}: no such command"
        if isinstance(command, click.Group) and len(words) > 1:
            assert command.get_command(ctx, words[1]) is not None, (
                f"flask --app portal {' '.join(words)}: no such command"
            )


def test_the_web_unit_serves_the_app_with_the_gunicorn_config():
    service = units()["portal-web.service"]["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0].endswith("/gunicorn")
    assert argv[argv.index("-c") + 1].endswith("gunicorn.conf.py")
    module, _, call = argv[-1].partition(":")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"'{argv[-1]}'" in readme, "the unit serves another app than the README's production recipe"
    import importlib

    assert callable(getattr(importlib.import_module(module), call.removesuffix("()")))


def test_services_run_as_the_portal_user_with_the_settings_file():
    for name, unit in units().items():
        if name.endswith(".service") and name != "portal-backup.service":
            assert unit["Service"]["User"] == "portal", name
            assert unit["Service"]["EnvironmentFile"] == "/etc/portal/portal.env", name
    jobs = shlex.split(units()["portal-jobs.service"]["Service"]["ExecStart"])
    assert jobs[1:] == ["--app", "portal", "jobs", "worker"]
