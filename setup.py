"""Packaging hook for `pip install .` (the metadata is in pyproject.toml).

The customer's layout keeps templates/, static/ and migrations/ at the top level, beside portal/.
The wheel carries them inside the package (portal/templates, ...), where portal/files.py looks
first, and the translations compiled from the .po sources (the .mo files are build output, never
committed)."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
TOP_LEVEL_FOLDERS = ("templates", "static", "migrations")


class BuildWithFiles(build_py):
    def run(self):
        super().run()
        package = Path(self.build_lib) / "portal"
        for name in TOP_LEVEL_FOLDERS:
            target = package / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(HERE / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        compile_translations(HERE / "portal" / "translations", package / "translations")


def compile_translations(source: Path, target: Path) -> None:
    """Each <locale>/LC_MESSAGES/messages.po to a .mo beside its copy in the build (fuzzy entries
    included, as `make translations` does)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in sorted(source.glob("*/LC_MESSAGES/messages.po")):
        mo = target / po.relative_to(source).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as src:
            catalog = read_po(src, locale=po.parts[-3])
        with mo.open("wb") as out:
            write_mo(out, catalog, use_fuzzy=True)


setup(cmdclass={"build_py": BuildWithFiles})
