"""Locale and timezone selection: zh_CN by default, English on request (remembered in a cookie)."""

from __future__ import annotations

from flask import current_app, request


def select_locale() -> str:
    wanted = request.cookies.get("lang", "")
    if wanted in current_app.config["LANGUAGES"]:
        return wanted
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BUSINESS_TIMEZONE"]
