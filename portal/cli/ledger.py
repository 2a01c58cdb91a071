from __future__ import annotations

from flask.cli import AppGroup

ledger = AppGroup("ledger", help="Inspect and check the ledger.")
