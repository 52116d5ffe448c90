"""Log in, log out and the language switch.

Failed logins are throttled per address (:mod:`web.auth.throttle`); an
unknown user name and a wrong password get the same answer, status and
(scrypt) work, so the form tells nobody which user names exist.
"""
from __future__ import annotations

import logging
import math

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext as _l
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from web.box import get_box
from web.forms import BoxForm
from web.wizard.forms import REQUIRED, TOO_LONG
from web.i18n import LANGUAGES
from web.security import current_user, log_in, log_out, login_required, public, safe_next

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


class LoginForm(BoxForm):
    username = StringField(_l("User name"), validators=[DataRequired(REQUIRED), Length(max=64, message=TOO_LONG)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=256, message=TOO_LONG)])


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
        blocked = _throttle().blocked_for(address)
        if blocked:
            form.form_errors_extra.append(_blocked_message(blocked))
            status = 429
        elif form.validate_on_submit():
            user = get_box().users.authenticate(form.username.data, form.password.data)
            if user is not None:
                _throttle().success(address)
                log_in(user)
                log.info("login: %s (%s) from %s", user.username, user.role, address)
                return redirect(safe_next(request.args.get("next"), url_for("dashboard.index")))
            log.warning("failed login from %s", address)
            if _throttle().failure(address):
                form.form_errors_extra.append(_blocked_message(_throttle().blocked_for(address)))
                status = 429
            else:
                form.form_errors_extra.append(gettext("Wrong user name or password."))
                status = 401
        form.password.data = ""
    return render_template("auth/login.html", form=form), status


def _blocked_message(seconds: float) -> str:
    return gettext("Too many failed logins from your address. Try again in %(minutes)d minutes.",
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
