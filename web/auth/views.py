"""Log in, log out, change one's own password, and the language switch.

Failed logins are throttled per address and per user name
(:mod:`web.auth.throttle`); an unknown user name and a wrong password get
the same answer, status and (scrypt) work, so the form tells nobody which
user names exist.
"""
from __future__ import annotations

import logging
import math

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext as _l
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from firmware.errors import ConfigError
from web.box import get_box
from web.forms import BoxForm, attach_error
from web.wizard.forms import REQUIRED, TOO_LONG
from web.i18n import LANGUAGES
from web.security import current_user, log_in, log_out, login_required, public, safe_next

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


class LoginForm(BoxForm):
    username = StringField(_l("User name"), validators=[DataRequired(REQUIRED), Length(max=64, message=TOO_LONG)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=256, message=TOO_LONG)])


class ChangePasswordForm(BoxForm):
    current = PasswordField(_l("Current password"),
                            validators=[DataRequired(REQUIRED), Length(max=256, message=TOO_LONG)])
    password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED), Length(max=256, message=TOO_LONG)],
                             description=_l("At least 10 characters, at least 5 different ones; "
                                            "not a common password and not the user name."))
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(REQUIRED)])


def _throttle():
    return current_app.extensions["smallpbx_throttle"]


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user() is not None:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    address = request.remote_addr or "?"
    status = 200
    if request.method == "POST":
        throttle = _throttle()
        blocked = throttle.blocked_for(address)
        if blocked:
            form.form_errors_extra.append(_blocked_message(blocked))
            status = 429
        elif form.validate_on_submit():
            username = form.username.data
            blocked = throttle.user_blocked_for(username, address)
            if blocked:              # the same for any name, known or not: counted alike
                form.form_errors_extra.append(_blocked_message(blocked))
                status = 429
            else:
                user = get_box().users.authenticate(username, form.password.data)
                if user is not None:
                    throttle.success(address, username)
                    log_in(user)
                    log.info("login: %s (%s) from %s", user.username, user.role, address)
                    return redirect(safe_next(request.args.get("next"), url_for("dashboard.index")))
                log.warning("failed login from %s", address)
                if throttle.failure(address, username):
                    form.form_errors_extra.append(_blocked_message(
                        max(throttle.blocked_for(address), throttle.user_blocked_for(username, address))))
                    status = 429
                else:
                    form.form_errors_extra.append(gettext("Wrong user name or password."))
                    status = 401
        form.password.data = ""
    return render_template("auth/login.html", form=form), status


def _blocked_message(seconds: float) -> str:
    return gettext("Too many failed logins. Try again in %(minutes)d minutes.",
                   minutes=max(1, math.ceil(seconds / 60)))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    log_out()
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>")
@public
def language(code: str):
    """Switch the page language (kept in the session cookie)."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("dashboard.index")))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's own password (owner and agents alike).

    The current password is asked for (a session left open on a shared
    computer is not enough) and counts as a login attempt for the
    throttle. The new one follows the owner's rules (web/auth/users.py
    ``check_password``; agents' generated passwords meet them too). The
    user's epoch moves on: every other session of the user ends, this one
    is renewed and stays logged in.
    """
    user = current_user()
    form = ChangePasswordForm()
    address = request.remote_addr or "?"
    status = 200
    if request.method == "POST":
        status = 400
        throttle = _throttle()
        blocked = max(throttle.blocked_for(address), throttle.user_blocked_for(user.username, address))
        if blocked:
            form.form_errors_extra.append(_blocked_message(blocked))
            status = 429
        elif form.validate_on_submit():
            users = get_box().users
            if users.authenticate(user.username, form.current.data) is None:
                log.warning("wrong current password for %s from %s", user.username, address)
                if throttle.failure(address, user.username):
                    form.form_errors_extra.append(_blocked_message(
                        max(throttle.blocked_for(address), throttle.user_blocked_for(user.username, address))))
                    status = 429
                else:
                    form.current.errors = list(form.current.errors) + [gettext("This is not your current password.")]
            elif form.password.data != form.confirm.data:
                form.confirm.errors = list(form.confirm.errors) + [gettext("The two passwords differ.")]
            else:
                try:
                    users.set_password(user.username, form.password.data)
                except ConfigError as exc:
                    attach_error(form, exc)
                else:
                    throttle.success(address, user.username)
                    log_in(users.get(user.username))         # this session, in the new epoch
                    log.info("password changed: %s from %s", user.username, address)
                    flash(gettext("Your password was changed. Your other sessions were logged out."), "success")
                    return redirect(url_for("dashboard.index"))
        form.current.data = form.password.data = form.confirm.data = ""
    return render_template("auth/password.html", form=form), status
