"""The system page (admin): the box's address, time and time zone, storage,
the core and Kamailio, the end of the logs; reload the configuration;
restart the core; download a backup and restore one (:mod:`web.system.backup`).

"Reload" makes the running core re-read the configuration, keeping calls
in progress. "Restart" asks the core to exit and be started again by its
supervisor (systemd, or ``smallpbx run``): once no call is up (the
default, like Asterisk's "core restart when convenient") or now.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext, lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import PasswordField, RadioField
from wtforms.validators import Length, Optional

from firmware.errors import ConfigError, ControlError
from web.box import get_box
from web.forms import BoxForm, attach_error
from web.lines.messages import translate
from web.i18n import N_
from web.security import admin_required
from web.system import backup, info
from web.wizard.forms import TOO_LONG

bp = Blueprint("system", __name__, url_prefix="/system")


class BackupForm(BoxForm):
    passphrase = PasswordField(_l("Passphrase (optional)"), validators=[Optional(), Length(max=256, message=TOO_LONG)],
                               description=_l("Without one, the backup restores on this box only. With one (at "
                                              "least 10 characters), it restores on any SmallPBX box when the "
                                              "same passphrase is typed."))


class RestoreForm(BoxForm):
    file = FileField(_l("Backup file"))
    passphrase = PasswordField(_l("Passphrase, if the backup has one"),
                               validators=[Optional(), Length(max=256, message=TOO_LONG)])


class RestartForm(BoxForm):
    when = RadioField(_l("When"), default="idle", choices=[
        ("idle", _l("As soon as no call is up (calls are still answered until then)")),
        ("now", _l("Now: calls in progress are cut off"))])


def size(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes = int(seconds) // 60
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return gettext("%(d)d d %(h)d h", d=days, h=hours)
    if hours:
        return gettext("%(h)d h %(m)d min", h=hours, m=mins)
    return gettext("%(m)d min", m=mins)


def _page(backup_form=None, restore_form=None, restart_form=None, status: int = 200):
    box = get_box()
    return render_template("system/index.html", info=info.collect(box, current_app.config), size=size,
                           duration=duration, backup_form=backup_form or BackupForm(formdata=None),
                           restore_form=restore_form or RestoreForm(formdata=None),
                           restart_form=restart_form or RestartForm(formdata=None)), status


@bp.route("/")
@admin_required
def index():
    return _page()


@bp.route("/reload", methods=["POST"])
@admin_required
def reload():
    try:
        get_box().core("reload")
    except ControlError as exc:
        if isinstance(exc.__cause__, OSError):
            _core_not_running()
        else:
            flash(gettext("The core did not reload: %(error)s", error=str(exc)), "error")
    else:
        flash(gettext("The core re-read the configuration. Calls in progress were kept."), "success")
    return redirect(url_for("system.index"))


def _core_not_running() -> None:
    flash(gettext("The phone system core is not running; it reads the configuration when it starts."), "warning")


def _core_refused(exc: ControlError) -> None:
    if isinstance(exc.__cause__, OSError):
        _core_not_running()
    else:
        flash(gettext("The core refused: %(error)s", error=str(exc)), "error")


@bp.route("/restart", methods=["POST"])
@admin_required
def restart():
    form = RestartForm()
    if not form.validate_on_submit():
        return _page(restart_form=form, status=400)
    try:
        get_box().core("restart", when=form.when.data)
    except ControlError as exc:
        _core_refused(exc)
    else:
        if form.when.data == "now":
            flash(gettext("The core is restarting; calls can be made again in a few seconds."), "success")
        else:
            flash(gettext("The core restarts as soon as no call is up."), "success")
    return redirect(url_for("system.index"))


@bp.route("/restart/cancel", methods=["POST"])
@admin_required
def cancel_restart():
    try:
        result = get_box().core("restart", when="cancel")
    except ControlError as exc:
        _core_refused(exc)
    else:
        if result.get("cancelled"):
            flash(gettext("The restart was cancelled."), "success")
    return redirect(url_for("system.index"))


def download(doc: dict) -> Response:
    response = Response(backup.dumps(doc), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{backup.filename(doc)}"'
    return response


@bp.route("/backup", methods=["POST"])
@admin_required
def make_backup():
    form = BackupForm()
    if not form.validate_on_submit():
        return _page(backup_form=form, status=400)
    try:
        doc = backup.make(get_box(), form.passphrase.data or None)
    except ConfigError as exc:
        attach_error(form, exc)
        return _page(backup_form=form, status=400)
    return download(doc)


@bp.route("/restore", methods=["POST"])
@admin_required
def restore():
    form = RestoreForm()
    if not form.validate_on_submit():
        return _page(restore_form=form, status=400)
    try:
        if not form.file.data:
            raise ConfigError("file", N_("Please choose a file."))
        result = backup.restore(get_box(), form.file.data.read(), form.passphrase.data or None)
    except ConfigError as exc:
        field = "passphrase" if exc.field == "passphrase" else "file"
        getattr(form, field).errors = list(getattr(form, field).errors) + [
            translate(exc.message) if exc.field in ("passphrase", "backup", "file") else
            f"{exc.field}: {translate(exc.message)}"]
        return _page(restore_form=form, status=400)
    flash(gettext("The backup of %(created)s was restored.", created=result["restored"]), "success")
    if not result["applied"]:
        flash(gettext("The phone system core is not running; the restored settings take effect when it starts."),
              "warning")
    # Every session ended with the restore (web/system/backup.py): log in again.
    flash(gettext("Log in with the restored password."), "info")
    return redirect(url_for("auth.login", next=url_for("system.index")))
