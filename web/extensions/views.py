"""The extensions page: list, add, remove, new SIP password, agents' web logins.

Passwords are shown once, in the answer to the POST that made them (never
put in the session cookie or a redirect).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext

from firmware.errors import ConfigError
from web.box import get_box
from web.dashboard import live
from web.extensions import service
from web.forms import attach_error
from web.i18n import translate_error
from web.security import admin_required
from web.wizard.forms import ContinueForm, ExtensionForm

bp = Blueprint("extensions", __name__, url_prefix="/extensions")


def _page(form=None, status: int = 200, **ctx):
    box = get_box()
    core, _info = live.core_status(box)
    regs = None if core is None else core.get("registrations", [])
    return render_template("extensions/index.html", form=form or ExtensionForm(formdata=None),
                           extensions=service.listing(box, regs), action_form=ContinueForm(),
                           core_reachable=core is not None, **ctx), status


def _applied_notice(applied: bool) -> None:
    if not applied:
        flash(gettext("The phone system core is not running; the change takes effect when it starts."), "warning")


@bp.route("/")
@admin_required
def index():
    return _page()


@bp.route("/", methods=["POST"])
@admin_required
def add():
    form = ExtensionForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        created = service.add(get_box(), (form.number.data or "").strip(), (form.name.data or "").strip(),
                               web_login=form.web_login.data)
    except ConfigError as exc:
        attach_error(form, exc, {"web_login": "number"})
        return _page(form, 400)
    _applied_notice(created["applied"])
    return _page(None, 201, created=created)


@bp.route("/<number>/remove", methods=["POST"])
@admin_required
def remove(number: str):
    try:
        result = service.remove(get_box(), number)
    except ConfigError as exc:
        flash(gettext("Extension %(number)s was not removed: %(field)s %(message)s", number=number,
                      field=exc.field, message=translate_error(exc.message)), "error")
        return redirect(url_for("extensions.index"))
    flash(gettext("Extension %(number)s removed.", number=number), "success")
    _applied_notice(result["applied"])
    return redirect(url_for("extensions.index"))


@bp.route("/<number>/password", methods=["POST"])
@admin_required
def password(number: str):
    try:
        result = service.reset_sip_password(get_box(), number)
    except ConfigError as exc:
        flash(f"{exc.field}: {translate_error(exc.message)}", "error")
        return redirect(url_for("extensions.index"))
    _applied_notice(result["applied"])
    return _page(None, 200, created={"account": result["account"], "web_login": None, "reset": True})


@bp.route("/<number>/web-login", methods=["POST"])
@admin_required
def web_login(number: str):
    try:
        result = service.reset_web_login(get_box(), number)
    except ConfigError as exc:
        flash(f"{exc.field}: {translate_error(exc.message)}", "error")
        return redirect(url_for("extensions.index"))
    return _page(None, 200, created={"account": None, "web_login": result["web_login"], "number": number})


@bp.route("/<number>/web-login/remove", methods=["POST"])
@admin_required
def remove_web_login(number: str):
    if get_box().users.remove_extension_logins(number):
        flash(gettext("The web login of %(number)s was removed.", number=number), "success")
    return redirect(url_for("extensions.index"))
