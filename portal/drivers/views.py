"""Drivers and vehicles (车队司机管理), fleet admins only. Each driver gets a sign-in with a one-time
password shown once on the page that created it (never stored in the cookie or the audit log)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth.forms import ConfirmedForm, EmptyForm
from portal.auth.policy import PasswordPolicy
from portal.auth.web import username_taken
from portal.cards.services import customer_cards
from portal.drivers import services
from portal.drivers.forms import DriverForm, DriverLoginForm, NewDriverForm, VehicleForm
from portal.drivers.models import Driver, Vehicle
from portal.extensions import clock, db
from portal.queries.pages import numbered_rows
from portal.web.access import customer_scope, guard, owned_or_404, requires

bp = guard(Blueprint("drivers", __name__, url_prefix="/drivers"))

MESSAGES = {
    "invalid_username": lambda: _("Use 3 to 64 letters, digits or . _ - @ for the user name."),
    "plate_taken": lambda: _("A vehicle with this plate is registered already."),
    "invalid_plate": lambda: _("This is not a licence plate (e.g. 京A12345)."),
    "driver_error": lambda: _("This driver already has a sign-in, or is inactive."),
}


def _message(error: services.DriverError) -> str:
    if isinstance(error, services.UsernameTaken):
        return username_taken(error.suggestion)
    return MESSAGES[error.code]()


def _policy() -> PasswordPolicy:
    return PasswordPolicy.from_config(current_app.config)


def _rounds() -> int:
    return current_app.config.get("BCRYPT_ROUNDS", 12)


def _actor() -> int:
    return current_user.user.id


def _show_password(driver: Driver, username: str, password: str):
    """The one-time password page: not cached anywhere on the way back to the admin."""
    response = current_app.make_response(
        render_template("drivers/password.html", driver=driver, username=username, password=password)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


#: Drivers, and vehicles, on one page of the list.
PAGE_SIZE = 50


@bp.get("/")
@requires("drivers.manage")
def index():
    """Drivers and vehicles of the customer, searchable, active ones first, each list a page at a
    time (`page` for drivers, `vpage` for vehicles)."""
    customer_id = customer_scope()
    query = request.args.get("q", "")[:64]
    show = request.args.get("show", "active")
    active = None if show == "all" else (False if show == "inactive" else True)
    drivers = numbered_rows(
        db.session, services.driver_search(customer_id, query=query, active=active), request.args.get("page"), PAGE_SIZE
    )
    vehicles = numbered_rows(
        db.session,
        services.vehicle_search(customer_id, query=query, active=active),
        request.args.get("vpage"),
        PAGE_SIZE,
    )
    driver_ids, vehicle_ids = [d.id for d in drivers.rows], [v.id for v in vehicles.rows]
    by_driver: dict[int, list] = {}
    by_vehicle: dict[int, list] = {}
    for card in services.cards_of(db.session, driver_ids=driver_ids, vehicle_ids=vehicle_ids):
        if card.driver_id in driver_ids:
            by_driver.setdefault(card.driver_id, []).append(card)
        if card.vehicle_id in vehicle_ids:
            by_vehicle.setdefault(card.vehicle_id, []).append(card)
    return render_template(
        "drivers/index.html",
        drivers=drivers.rows,
        vehicles=vehicles.rows,
        drivers_page=drivers,
        vehicles_page=vehicles,
        by_driver=by_driver,
        by_vehicle=by_vehicle,
        logins=services.driver_logins(db.session, driver_ids),
        query=query,
        show=show,
        form=EmptyForm(),
    )


@bp.route("/new", methods=["GET", "POST"])
@requires("drivers.manage")
def new():
    """Add a driver and their sign-in."""
    form = NewDriverForm()
    if form.validate_on_submit():
        try:
            driver, user, password = services.add_driver(
                db.session,
                customer_scope(),
                name=form.name.data,
                username=form.username.data,
                phone=form.phone.data or "",
                employee_no=form.employee_no.data or "",
                licence_no=form.licence_no.data or "",
                note=form.note.data or "",
                actor_id=_actor(),
                now=clock().now(),
                policy=_policy(),
                rounds=_rounds(),
            )
        except services.DriverError as error:
            db.session.rollback()
            form.username.errors.append(_message(error))
            return render_template("drivers/driver_form.html", form=form, driver=None), 409
        db.session.commit()
        return _show_password(driver, user.username, password)
    return render_template("drivers/driver_form.html", form=form, driver=None), 422 if form.errors else 200


@bp.route("/<int:driver_id>", methods=["GET", "POST"])
@requires("drivers.manage")
def edit(driver_id: int):
    driver = owned_or_404(Driver, driver_id)
    form = DriverForm(obj=driver if request.method == "GET" else None)
    if form.validate_on_submit():
        services.update_driver(
            db.session,
            driver,
            name=form.name.data,
            phone=form.phone.data or "",
            employee_no=form.employee_no.data or "",
            licence_no=form.licence_no.data or "",
            note=form.note.data or "",
            actor_id=_actor(),
            now=clock().now(),
        )
        db.session.commit()
        flash(_("Driver %(name)s saved.", name=driver.name), "success")
        return redirect(url_for("drivers.index"))
    login = services.driver_login(db.session, driver.id)
    cards = customer_cards(db.session, driver.customer_id, driver_id=driver.id)
    login_form = DriverLoginForm(formdata=None)
    return render_template(
        "drivers/driver_form.html", form=form, driver=driver, login=login, cards=cards, login_form=login_form
    ), 422 if form.errors else 200


@bp.post("/<int:driver_id>/login")
@requires("drivers.manage")
def create_login(driver_id: int):
    """A sign-in for a driver who has none (shown once, like a new driver's)."""
    driver = owned_or_404(Driver, driver_id)
    form = DriverLoginForm()
    if not form.validate_on_submit():
        flash(_("Use 3 to 64 letters, digits or . _ - @ for the user name."), "error")
        return redirect(url_for("drivers.edit", driver_id=driver.id), 303)
    try:
        user, password = services.create_driver_login(
            db.session,
            driver,
            form.username.data,
            actor_id=_actor(),
            now=clock().now(),
            policy=_policy(),
            rounds=_rounds(),
        )
    except services.DriverError as error:
        db.session.rollback()
        flash(_message(error), "error")
        return redirect(url_for("drivers.edit", driver_id=driver.id), 303)
    db.session.commit()
    return _show_password(driver, user.username, password)


@bp.post("/<int:driver_id>/active")
@requires("drivers.manage")
def set_driver_active(driver_id: int):
    """Reactivate a driver. Deactivating goes through its confirmation page (`deactivate`)."""
    driver = owned_or_404(Driver, driver_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if request.form.get("active") != "1":
        return redirect(url_for("drivers.deactivate", driver_id=driver.id), 303)  # nothing changed yet
    services.set_driver_active(db.session, driver, True, actor_id=_actor(), now=clock().now())
    db.session.commit()
    flash(_("Driver %(name)s reactivated.", name=driver.name), "success")
    return redirect(url_for("drivers.index"))


@bp.route("/<int:driver_id>/deactivate", methods=["GET", "POST"])
@requires("drivers.manage")
def deactivate(driver_id: int):
    """Confirm, then deactivate a driver (sign-in disabled at once); the page lists the driver's
    cards, which stay active and assigned, so the admin can reassign them or report them lost."""
    driver = owned_or_404(Driver, driver_id)
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        services.set_driver_active(db.session, driver, False, actor_id=_actor(), now=clock().now())
        db.session.commit()
        flash(_("Driver %(name)s deactivated; their sign-in no longer works.", name=driver.name), "success")
        return redirect(url_for("drivers.index"))
    cards = [c for c in customer_cards(db.session, driver.customer_id, driver_id=driver.id) if c.status != "closed"]
    return render_template("drivers/deactivate.html", driver=driver, cards=cards, form=form)


@bp.route("/<int:driver_id>/reset-password", methods=["GET", "POST"])
@requires("drivers.manage")
def reset_password(driver_id: int):
    """A new one-time password for the driver (shown once; to be changed at the next sign-in), after
    a confirmation page: the old password stops working. A POST without that page's confirmation
    changes nothing and leads to it."""
    driver = owned_or_404(Driver, driver_id)
    login = services.driver_login(db.session, driver.id)
    if login is None:
        abort(404)
    form = ConfirmedForm()
    if request.method == "GET":
        return render_template("drivers/confirm_reset.html", driver=driver, login=login, form=ConfirmedForm.asking())
    if not form.is_confirmed():
        if form.csrf_token.errors:
            abort(400)
        return redirect(url_for("drivers.reset_password", driver_id=driver.id), 303)
    try:
        password = services.reset_driver_password(
            db.session, driver, actor_id=_actor(), now=clock().now(), policy=_policy(), rounds=_rounds()
        )
    except services.DriverError:
        db.session.rollback()
        abort(409)
    db.session.commit()
    return _show_password(driver, login.username, password)


@bp.route("/vehicles/new", methods=["GET", "POST"], defaults={"vehicle_id": None})
@bp.route("/vehicles/<int:vehicle_id>", methods=["GET", "POST"])
@requires("drivers.manage")
def vehicle(vehicle_id: int | None):
    """Add or edit a vehicle (plate, tank capacity, make and model)."""
    vehicle = owned_or_404(Vehicle, vehicle_id) if vehicle_id is not None else None
    form = VehicleForm(obj=vehicle if request.method == "GET" else None)
    if request.method == "GET" and vehicle is not None:
        form.tank.data = vehicle.tank_ml
    if form.validate_on_submit():
        try:
            if vehicle is None:
                vehicle = services.add_vehicle(
                    db.session,
                    customer_scope(),
                    plate=form.plate.data,
                    tank_ml=form.tank.data,
                    model=form.model.data or "",
                    note=form.note.data or "",
                    actor_id=_actor(),
                    now=clock().now(),
                )
            else:
                services.update_vehicle(
                    db.session,
                    vehicle,
                    plate=form.plate.data,
                    tank_ml=form.tank.data,
                    model=form.model.data or "",
                    note=form.note.data or "",
                    actor_id=_actor(),
                    now=clock().now(),
                )
        except services.DriverError as error:
            db.session.rollback()
            form.plate.errors.append(_message(error))
            return render_template("drivers/vehicle_form.html", form=form, vehicle=vehicle), 409
        db.session.commit()
        flash(_("Vehicle %(plate)s saved.", plate=vehicle.plate), "success")
        return redirect(url_for("drivers.index"))
    return render_template("drivers/vehicle_form.html", form=form, vehicle=vehicle), 422 if form.errors else 200


@bp.post("/vehicles/<int:vehicle_id>/active")
@requires("drivers.manage")
def set_vehicle_active(vehicle_id: int):
    """Reactivate a vehicle. Deactivating goes through its confirmation page (`deactivate_vehicle`)."""
    vehicle = owned_or_404(Vehicle, vehicle_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if request.form.get("active") != "1":
        return redirect(url_for("drivers.deactivate_vehicle", vehicle_id=vehicle.id), 303)  # nothing changed yet
    services.set_vehicle_active(db.session, vehicle, True, actor_id=_actor(), now=clock().now())
    db.session.commit()
    flash(_("Vehicle %(plate)s saved.", plate=vehicle.plate), "success")
    return redirect(url_for("drivers.index"))


@bp.route("/vehicles/<int:vehicle_id>/deactivate", methods=["GET", "POST"])
@requires("drivers.manage")
def deactivate_vehicle(vehicle_id: int):
    """Confirm, then deactivate a vehicle; the page lists the cards assigned to it, which stay active
    and assigned. A POST without that page's confirmation changes nothing and leads to it."""
    vehicle = owned_or_404(Vehicle, vehicle_id)
    form = ConfirmedForm()
    if request.method == "GET":
        cards = services.vehicle_cards(db.session, vehicle)
        return render_template(
            "drivers/deactivate_vehicle.html", vehicle=vehicle, cards=cards, form=ConfirmedForm.asking()
        )
    if not form.is_confirmed():
        if form.csrf_token.errors:
            abort(400)
        return redirect(url_for("drivers.deactivate_vehicle", vehicle_id=vehicle.id), 303)
    services.set_vehicle_active(db.session, vehicle, False, actor_id=_actor(), now=clock().now())
    db.session.commit()
    flash(_("Vehicle %(plate)s deactivated.", plate=vehicle.plate), "success")
    return redirect(url_for("drivers.index"))
