"""Who may do what: the one table from roles to permissions, and whose an object is.

Plain Python (no Flask, no database): the web layer (`portal.web.access`) asks these questions for
every view, a CLI command or the coming REST API can ask the same ones.

- A view declares one permission (``"cards.manage"``); `allows(role, permission)` answers from
  `ROLE_PERMISSIONS`. A new role (a customer's finance or approver admin, a staff supervisor) is one
  more entry in that table; a new action is one more permission granted to the roles that may take it.
- `reaches(actor, owner)` is the object-level rule: an object belongs to a customer and, for some,
  to the driver it is assigned to, or sits in a region. Admins reach their customer's objects,
  drivers only their own, staff those of their region. Staff hierarchies (team, supervisor over a
  region's specialists) extend `Actor` and this one function.
"""

from __future__ import annotations

from dataclasses import dataclass

#: A view anyone may open, signed in or not (sign-in, recovery, registration, language switch).
PUBLIC = "public"

#: Everything a signed-in user may do for their own account, whatever the role.
OWN_ACCOUNT = "account.own"

#: permission -> what it lets a user do (the names views declare).
PERMISSIONS: dict[str, str] = {
    OWN_ACCOUNT: "home page, change or confirm one's own password, sign out",
    "alerts.view": "see and acknowledge the customer's anomaly alerts",
    "cards.manage": "list, assign and set the controls and templates of the customer's cards",
    "cards.own": "see one's own cards (a driver)",
    "cards.report_loss": "report a card lost and follow the report (drivers: their own cards)",
    "cards.resolve_loss": "cancel a loss report or replace the lost card",
    "chips.view": "read a chip and see the loads waiting for it (drivers: their own cards)",
    "chips.sync": "sync a chip, simulate a pump on the virtual reader",
    "chips.load": "request, write and cancel loads onto a chip",
    "drivers.manage": "the customer's drivers, vehicles and driver logins",
    "funds.move": "allocate to and collect from the customer's cards",
    "funds.deposits.view": "see deposits into unit accounts (admins: their customer's; staff: their region's)",
    "funds.deposit": "record a bank transfer into a customer's unit account (staff of its region)",
    "customer.profile": "the customer's own profile and activity log",
    "customer.profile.staff": "any customer profile of the staff member's region, legal fields included",
    "queries.view": "balances, transaction queries, statements and their exports (drivers: own cards)",
    "points.redeem": "redeem points for a voucher (drivers: their own cards)",
    "statistics.view": "the customer's transaction and points statistics",
    "support.users": "find, unlock and reset the users of the staff member's region",
    "terminals.manage": "station terminals and their API keys",
    "jobs.monitor": "the scheduled jobs: last and next runs, failures and alerts",
    "apikeys.manage": "the customer's API keys: create (shown once), list, revoke",
}

#: role -> the permissions it holds. The only place a role is given a right.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            OWN_ACCOUNT,
            "alerts.view",
            "cards.manage",
            "cards.report_loss",
            "cards.resolve_loss",
            "chips.view",
            "chips.sync",
            "chips.load",
            "drivers.manage",
            "funds.move",
            "funds.deposits.view",
            "customer.profile",
            "queries.view",
            "points.redeem",
            "statistics.view",
            "apikeys.manage",
        }
    ),
    "driver": frozenset({OWN_ACCOUNT, "cards.own", "cards.report_loss", "chips.view", "queries.view", "points.redeem"}),
    "staff": frozenset(
        {OWN_ACCOUNT, "funds.deposits.view", "funds.deposit", "customer.profile.staff", "support.users"}
    ),
    "sysadmin": frozenset({OWN_ACCOUNT, "terminals.manage", "jobs.monitor"}),
}


def allows(role: str | None, permission: str) -> bool:
    """Whether a signed-in user of `role` holds `permission` (PUBLIC: everyone does)."""
    if permission == PUBLIC:
        return True
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}: add it to portal.auth.permissions")
    return permission in ROLE_PERMISSIONS.get(role or "", frozenset())


@dataclass(frozen=True)
class Actor:
    """Who is acting, as far as scope goes: the role, and the customer, driver or region they act for."""

    role: str
    customer_id: int | None = None
    driver_id: int | None = None
    region_id: int | None = None


@dataclass(frozen=True)
class Owner:
    """Whose an object is: its customer, the driver it is assigned to (if any), its region (if known)."""

    customer_id: int | None = None
    driver_id: int | None = None
    region_id: int | None = None


def reaches(actor: Actor, owner: Owner) -> bool:
    """Whether `actor` may see or act on an object owned by `owner`.

    Admins: any object of their customer. Drivers: objects of their customer assigned to them.
    Staff: objects in their region. System admins act on no customer's objects.
    """
    if actor.role == "admin":
        return actor.customer_id is not None and owner.customer_id == actor.customer_id
    if actor.role == "driver":
        return (
            actor.customer_id is not None
            and actor.driver_id is not None
            and owner.customer_id == actor.customer_id
            and owner.driver_id == actor.driver_id
        )
    if actor.role == "staff":
        return actor.region_id is not None and owner.region_id == actor.region_id
    return False
