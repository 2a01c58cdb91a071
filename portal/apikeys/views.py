"""API key pages for a customer's fleet admins: list, create (the key is shown once), revoke."""

from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.apikeys import services
from portal.apikeys.forms import ERRORS, SCOPE_NAMES, STATE_LABELS, ApiKeyForm
from portal.apikeys.models import ApiKey
from portal.auth.forms import ConfirmedForm
from portal.auth.models import User
from portal.extensions import client_ip, clock, db
from portal.web.access import customer_scope, guard, requires

bp = guard(Blueprint("apikeys", __name__, url_prefix="/api-keys"))


def _page(form: ApiKeyForm, *, new_token: str | None = None, status: int = 200):
    """The customer's keys, newest first, with the create form (and a new key's token, this once)."""
    keys = services.customer_keys(db.session, customer_scope())
    user_ids = {key.created_by for key in keys} | {key.revoked_by for key in keys}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids - {None})))}
    now = clock().now()
    return render_template(
        "apikeys/index.html",
        form=form,
        keys=[(key, services.state(key, now)) for key in keys],
        users=users,
        new_token=new_token,
        scope_names=SCOPE_NAMES,
        state_labels=STATE_LABELS,
    ), status


@bp.get("/")
@requires("apikeys.manage")
def index():
    """The customer's API keys: name, prefix, permissions, creator, expiry, last use, state."""
    return _page(ApiKeyForm())


@bp.post("/")
@requires("apikeys.manage")
def create():
    """Create a key; its token is shown on this response only, never again."""
    form = ApiKeyForm()
    customer_id = customer_scope()
    if not form.validate_on_submit():
        return _page(form, status=422)
    now = clock().now()
    try:
        expires_at = services.expiry(form.expires_on.data, now) if form.expires_on.data else None
        key, token = services.create_key(
            db.session, customer_id=customer_id, name=form.name.data, scopes=form.scopes.data,
            actor_id=current_user.user.id, now=now, expires_at=expires_at,
            networks=services.split_networks(form.networks.data), ip=client_ip(),
        )  # fmt: skip
    except services.ApiKeyError as exc:
        field, message = ERRORS[exc.code]
        getattr(form, field).errors.append(str(message))
        return _page(form, status=422)
    db.session.commit()
    flash(_("API key %(name)s created. Copy it now: it is not shown again.", name=key.name), "success")
    return _page(ApiKeyForm(formdata=None), new_token=token)


@bp.route("/<int:key_id>/revoke", methods=["GET", "POST"])
@requires("apikeys.manage")
def revoke(key_id: int):
    """Revoke a key at once. The GET (and a POST without the confirmation) asks first, naming the key."""
    key = db.session.get(ApiKey, key_id)
    if key is None or key.customer_id != customer_scope():
        abort(404)
    form = ConfirmedForm()
    if request.method == "GET" or not form.is_confirmed():
        if request.method == "POST" and form.csrf_token.errors:
            abort(400)
        return render_template("apikeys/confirm_revoke.html", key=key, form=ConfirmedForm.asking())
    services.revoke_key(db.session, key, actor_id=current_user.user.id, now=clock().now(), ip=client_ip())
    db.session.commit()
    flash(_("API key %(name)s revoked.", name=key.name), "success")
    return _page(ApiKeyForm())
