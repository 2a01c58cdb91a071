"""The navigation menu of each role, following the table of contents of the original manual.

This is data, not template logic: every area builds its views under the endpoint names below. An
item whose endpoint is not registered yet is shown greyed out ("coming soon"), never as a link to a
404, so the menu is complete from day one and items light up as features land.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError


@dataclass(frozen=True)
class Item:
    label: str
    endpoint: str


@dataclass(frozen=True)
class Section:
    label: str
    items: tuple[Item, ...]


HOME = Item(_l("Home"), "home.index")
CHANGE_PASSWORD = Item(_l("Change password"), "auth.change_password")
PURCHASES = Item(_l("Purchase transactions"), "queries.purchases")
POINTS_TRANSACTIONS = Item(_l("Points transactions"), "queries.points_transactions")
REPORT_LOSS = Item(_l("Report card lost"), "cards.loss")
REDEEM_POINTS = Item(_l("Redeem points"), "rewards.redeem")

#: role -> top-level entries, in the manual's order.
MENUS: dict[str, tuple[Item | Section, ...]] = {
    "admin": (
        Item(_l("Customer home"), "home.index"),
        Section(
            _l("Queries"),
            (
                Item(_l("Balance query"), "queries.balances"),
                Item(_l("Account transactions"), "queries.account_transactions"),
                PURCHASES,
                POINTS_TRANSACTIONS,
                Item(_l("Statements"), "queries.statements"),
            ),
        ),
        Section(
            _l("Statistics"),
            (
                Item(_l("Transaction statistics"), "statistics.transactions"),
                Item(_l("Points statistics"), "statistics.points"),
            ),
        ),
        Section(
            _l("Card services"),
            (
                Item(_l("Cards and controls"), "cards.index"),
                REPORT_LOSS,
                Item(_l("Allocate to sub-cards"), "funds.allocate"),
                Item(_l("Collect to unit account"), "funds.collect"),
                Item(_l("Read chip"), "chips.read"),
                Item(_l("Sync card"), "chips.sync"),
                Item(_l("Load funds onto chip"), "chips.load"),
                REDEEM_POINTS,
                Item(_l("Drivers and vehicles"), "drivers.index"),
                Item(_l("Anomaly alerts"), "alerts.index"),
            ),
        ),
        Section(
            _l("Account services"),
            (
                Item(_l("Customer profile"), "profile.index"),
                Item(_l("Activity log"), "profile.audit"),
                Item(_l("API keys"), "apikeys.index"),
            ),
        ),
        CHANGE_PASSWORD,
    ),
    "driver": (
        HOME,
        Item(_l("My cards"), "cards.mine"),
        PURCHASES,
        POINTS_TRANSACTIONS,
        REDEEM_POINTS,
        REPORT_LOSS,
        CHANGE_PASSWORD,
    ),
    "staff": (
        HOME,
        Item(_l("User search"), "support.users"),
        Item(_l("Deposit registration"), "funds.deposits"),
        Item(_l("Activity log"), "support.audit"),
        CHANGE_PASSWORD,
    ),
    "sysadmin": (
        HOME,
        Item(_l("Regions and stations"), "admin.stations"),
        Item(_l("Support staff"), "admin.staff"),
        Item(_l("Terminals"), "admin.terminals"),
        Item(_l("Scheduled jobs"), "admin.jobs"),
        CHANGE_PASSWORD,
    ),
}


@dataclass(frozen=True)
class Link:
    """One menu entry as the template shows it."""

    label: str
    endpoint: str
    #: Where the entry links to ("" while unavailable).
    url: str
    #: False while no view is registered under the endpoint: shown greyed out, not as a link.
    available: bool
    #: The page being shown.
    current: bool


@dataclass(frozen=True)
class Group:
    label: str
    links: tuple[Link, ...]


def menu_for(role: str, app: Flask, current_endpoint: str | None) -> list[Link | Group]:
    """The entries a user of `role` sees, each marked available (endpoint registered) and current.

    Needs a request context (it builds URLs)."""

    def link(item: Item) -> Link:
        url = ""
        if item.endpoint in app.view_functions:
            try:
                url = url_for(item.endpoint)
            except BuildError:
                # A menu entry must open without arguments; a view that needs some is a bug to see
                # in the menu (greyed out), not a reason for every page to fail.
                app.logger.warning("menu endpoint %s needs URL arguments", item.endpoint)
        return Link(
            label=str(item.label),
            endpoint=item.endpoint,
            url=url,
            available=bool(url),
            current=item.endpoint == current_endpoint,
        )

    entries: list[Link | Group] = []
    for entry in MENUS.get(role, ()):
        if isinstance(entry, Section):
            entries.append(Group(str(entry.label), tuple(link(item) for item in entry.items)))
        else:
            entries.append(link(entry))
    return entries
