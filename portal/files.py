"""Where the portal's files outside its Python code are. In a source checkout `templates/`, `static/`
and `migrations/` sit at the top level, next to `portal/`; a wheel (`pip install .`, see setup.py)
carries the same folders inside the package. Nothing else in portal/ needs to know which it is."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
#: True when running from an installed wheel (the folders were packed into the package).
INSTALLED = (PACKAGE / "templates").is_dir()
#: The folder holding templates/, static/ and migrations/.
ROOT = PACKAGE if INSTALLED else PACKAGE.parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
MIGRATIONS = ROOT / "migrations"
TRANSLATIONS = PACKAGE / "translations"
#: instance/ (the default SQLite file) beside the checkout; an installed portal uses Flask's default
#: (<venv>/var/portal-instance) and production sets DATABASE_URL anyway.
INSTANCE = None if INSTALLED else PACKAGE.parent / "instance"
