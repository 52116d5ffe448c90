"""The pages: call history (filters, paging, CSV), recordings (search, play,
download) and voicemail (per mailbox: play, download, delete).

Server-rendered; the filter forms are GET forms (nothing changes), the one
change, deleting a voicemail message, is a POST with the CSRF token.
Audio plays from the API's download URLs (``/api/recordings/<uid>.wav``,
``/api/voicemail/<mailbox>/<id>.wav``) in the browser's own ``<audio>``.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, gettext

from firmware.errors import ConfigError
from web.box import get_box
from web.i18n import translate_error
from web.records import files, history, service
from web.security import current_user, login_required

bp = Blueprint("records", __name__)


def duration(seconds) -> str:
    if seconds is None:
        return "–"
    seconds = round(seconds)
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{rest:02d}"
    return f"{minutes}:{rest:02d}"


def local_time(epoch) -> str:
    if epoch is None:
        return "–"
    return format_datetime(datetime.fromtimestamp(epoch, timezone.utc), "yyyy-MM-dd HH:mm:ss")


@bp.context_processor
def helpers():
    return {"duration": duration, "local_time": local_time, "dispositions": history.DISPOSITIONS}


def _choices(names: history.Names) -> dict:
    lines = dict(names.lines)
    lines.setdefault("sip", gettext("Phones and SIP trunks"))
    return {"agents": names.agents, "queues": names.queues, "lines": lines}


def _listing(template: str, *, recorded: bool):
    user, box = current_user(), get_box()
    error, status = None, 200
    try:
        result = service.history_page(request.args, user, box, recorded=recorded)
        values = result["filters"].values
    except ConfigError as exc:
        error = {"field": exc.field, "message": translate_error(exc.message)}
        result = service.first_page(user, box, recorded=recorded)
        values = {**result["filters"].values, **{k: v for k, v in request.args.items() if k in result["filters"].values}}
        status = 400
    return render_template(template, r=result, values=values, error=error, user=user,
                           choices=_choices(result["names"])), status


@bp.route("/history/")
@login_required
def history_page():
    return _listing("records/history.html", recorded=False)


@bp.route("/recordings/")
@login_required
def recordings():
    return _listing("records/recordings.html", recorded=True)


@bp.route("/voicemail/")
@login_required
def voicemail():
    listing = service.voicemail_listing(current_user(), get_box(), request.args.get("mailbox") or None)
    if listing is None:
        abort(404)
    return render_template("records/voicemail.html", v=listing, user=current_user())


@bp.route("/voicemail/<number>/<filename>/delete", methods=["POST"])
@login_required
def delete_message(number: str, filename: str):
    """Delete one message of a mailbox (``number`` is the mailbox, ``filename`` the message's ``<id>.wav``)."""
    if not files.delete_message(get_box(), current_user(), number, filename):
        abort(404)
    flash(gettext("The message was deleted."), "info")
    return redirect(url_for("records.voicemail", mailbox=number))
