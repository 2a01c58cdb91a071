"""`make test` on a bare machine: tests/system-deps.sh installs Chromium and CJK fonts as root, and
without root stops with the exact command to run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "system-deps.sh"


def run(*args, env=None, as_nobody=False):
    prefix = []
    if as_nobody:
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if not setpriv:
                pytest.skip("setpriv (util-linux) is needed to drop root")
            prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        # not root already: the script sees that itself
    return subprocess.run(
        [*prefix, "/bin/bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_without_root_it_stops_with_the_command_to_run():
    result = run(
        "pg_isready-not-here=postgresql-client",
        env={"PATH": "/nonexistent", "CHROMIUM": "/nonexistent/chromium"},
        as_nobody=True,
    )
    assert result.returncode == 1
    assert "sudo apt-get install -y chromium fonts-noto-cjk postgresql-client" in result.stderr


def test_nothing_to_do_when_everything_is_there(tmp_path):
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    fc_list = tmp_path / "fc-list"
    fc_list.write_text("#!/bin/sh\necho 'Noto Sans CJK SC'\n")
    fc_list.chmod(0o755)
    result = run(env={"PATH": f"{tmp_path}:/usr/bin:/bin", "CHROMIUM": str(chromium)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
