"""Locale and timezone selection: zh_CN by default, English on request (remembered in a cookie)."""

from __future__ import annotations

import locale

from flask import current_app, request

# Babel knows "zh_CN" only as "zh_Hans_CN", and gettext looks for a catalog under that name (then
# "zh"), never under our portal/translations/zh_CN. Teach gettext's alias table the equivalence, so
# the Chinese catalog is found. (Renaming the catalog folder to zh_Hans_CN would also do.)
locale.locale_alias.setdefault("zh_hans_cn", "zh_CN.UTF-8")


def select_locale() -> str:
    wanted = request.cookies.get("lang", "")
    if wanted in current_app.config["LANGUAGES"]:
        return wanted
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BUSINESS_TIMEZONE"]


def language_code(locale_obj) -> str:
    """The LANGUAGES code (cookie value) of a babel Locale: zh_Hans_CN -> zh_CN, en -> en."""
    if locale_obj.language == "zh":
        return "zh_CN"
    return str(locale_obj)
