"""Every message with a code or link is queued from a one-time code's row, which only
`portal.auth.codes` issues, inside the send limits. Checked on the source: the outbox's `queue` is
called in two functions, each given the code's row; a new caller must be looked at (and listed)."""

from __future__ import annotations

import ast
from pathlib import Path

PORTAL = Path(__file__).resolve().parents[2] / "portal"
#: (module, function) allowed to call notify's `queue`, and who reaches them.
QUEUEING = {("auth/views_register.py", "queue_registration_code"), ("auth/views_password.py", "queue_recovery_link")}
#: Notices that carry no code and no link (so no send limit applies), and where they are queued.
NOTICES = {("webhooks/delivery.py", "disable_failing")}
#: Whose rows they are given: the services that issue codes within the limits (codes.issue_*).
ISSUERS = {"registration.start", "credentials.start_recovery", "credentials.staff_send_reset_link"}


def calls(tree: ast.AST, name: str):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
            yield node


def enclosing_functions(path: Path, name: str) -> set[tuple[str, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = str(path.relative_to(PORTAL))
    return {
        (module, function.name)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef) and any(True for _ in calls(function, name))
    }


def test_only_the_code_and_link_helpers_queue_messages():
    callers = set()
    for path in PORTAL.rglob("*.py"):
        if "notify" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        if "notify" in source and ".queue(" in source:
            callers |= enclosing_functions(path, "queue")
    assert callers == QUEUEING | NOTICES


def test_the_helpers_are_called_only_with_rows_the_limited_issuers_returned():
    for module, helper in QUEUEING | {("support/views.py", "queue_recovery_link")}:
        tree = ast.parse((PORTAL / module).read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef) or function.name == helper:
                continue
            uses = [c for c in ast.walk(function) if isinstance(c, ast.Call) and getattr(c.func, "id", "") == helper]
            if uses:
                issued = {ast.unparse(c.func) for c in ast.walk(function) if isinstance(c, ast.Call)} & ISSUERS
                assert issued, f"{module}:{function.name} queues a code or link it did not issue within the limits"
