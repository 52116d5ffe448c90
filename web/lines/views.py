"""The lines and trunks page (admin): lines with their live state, recent
line events, outbound routes, and the texts the lines sent and received.

Changes go through :mod:`web.lines.service`: the change is computed from
the tables as they are under the store's writer lock
(``ConfigStore.update_callcenter``: read, change, validate and write in
one hold), then ``reload``; a refusal is shown next to the field it names
and nothing is saved. What a view read before (for its form or a 404) is
never written back. Live state comes from the core's
``lines`` / ``line-events`` / ``sms-list`` commands; with the core down
the page shows the configuration and says so.

URLs carry no path argument (the line or route is a query or form field):
the route walkers of the tests (test_security, test_wizard) build every
URL from a fixed set of argument names.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext as _l

from firmware.errors import ConfigError, ControlError
from web.box import get_box
from web.forms import choices
from web.lines import service
from web.lines.forms import FORMS, OutboundRouteForm, TextForm
from web.lines.messages import translate
from web import servicecalls
from web.security import admin_required, safe_next
from web.wizard.forms import ContinueForm

bp = Blueprint("lines", __name__, url_prefix="/lines")
KINDS = {"gsm": _l("GSM (mobile SIM)"), "fxo": _l("Analog line (FXO)"), "sip": _l("SIP trunk")}
STATES = {"starting": _l("starting"), "up": _l("working"), "down": _l("down"), "unresponsive": _l("not answering"),
          "no-network": _l("no mobile network"), "sim-missing": _l("no SIM card"), "sim-pin": _l("SIM needs its PIN"),
          "sim-pin-needed": _l("SIM needs its PIN"), "sim-pin-rejected": _l("SIM PIN refused"),
          "sim-puk": _l("SIM locked (PUK needed)"), "registering": _l("registering"), "unknown": _l("unknown")}


@bp.app_template_global()
def line_state_label(state: str | None) -> str:
    return str(STATES.get(state, state or "–"))


@bp.app_template_filter()
def line_time(epoch: float | None) -> str:
    """A time the core reported, in the shop's time zone."""
    if epoch is None:
        return "–"
    return datetime.fromtimestamp(float(epoch), get_box().state.zone()).strftime("%Y-%m-%d %H:%M:%S")


@bp.app_template_global()
def line_kind_label(kind: str | None) -> str:
    return str(KINDS.get(kind or "gsm", kind))


def attach(form, exc: ConfigError, prefix: str) -> None:
    """Put a refusal next to its field when it is about this record, above the form otherwise."""
    message = translate(exc.message)
    parts = exc.field.split(".")
    table = prefix.split(".")[0]
    about_this = exc.field == prefix or exc.field.startswith((prefix + ".", table + ".?."))
    if exc.field == "lines" and "device" in form._fields:          # "two lines use the same device"
        parts, about_this = ["device"], True
    if about_this:
        for part in reversed(parts):
            if part in form._fields and part not in ("csrf_token", "kind", "original"):
                field = form._fields[part]
                field.errors = list(field.errors) + [message]
                return
    form.form_errors_extra.append(f"{exc.field}: {message}")


def _applied_notice(applied: bool) -> None:
    if not applied:
        flash(gettext("The phone system core is not running; the change takes effect when it starts."), "warning")


def _route_choices(current: str | None = None):
    routes = get_box().store.callcenter_tables()["routes"]
    pairs = [(r["number"], f"{r['number']} · {r['name']}" if r.get("name") else r["number"]) for r in routes]
    if current and current not in {r["number"] for r in routes}:
        pairs.append((current, current))
    return choices(pairs)


@bp.route("/")
@admin_required
def index():
    box = get_box()
    live = service.live_lines(box)
    tables = box.store.callcenter_tables()
    test_job, test_core = servicecalls.session_job(box, "test_call_job")
    return render_template("lines/index.html", lines=service.listing(box, live), core_reachable=live is not None,
                           events=service.line_events(box, 20) or [], routes=tables["outbound_routes"],
                           has_routes=bool(tables["routes"]), test_lines=[l["id"] for l in tables["lines"]],
                           test_job=test_job, test_core=test_core)


@bp.route("/test-call", methods=["POST"])
@admin_required
def test_call():
    """Ring the owner's mobile (``number``) through a line (``line``) and play the test message.

    Also used by the wizard's line step (``next``: the page to go back to
    without the script); the job is kept in the session for the page.
    """
    back = safe_next(request.form.get("next"), url_for("lines.index"))
    box = get_box()
    line_id, number = request.form.get("line", ""), request.form.get("number", "")
    return servicecalls.start("test_call_job", lambda: servicecalls.test_call(box, line_id, number), back)


def _line_form(kind: str, rec: dict | None = None, formdata=None):
    form = FORMS[kind](formdata=formdata)
    form.route.choices = _route_choices((rec or {}).get("route"))
    if formdata is None:
        form.kind.data = kind
        if rec is not None:
            form.original.data = rec["id"]
            for key, field in form._fields.items():
                if key in rec and key not in ("password", "pin", "kind", "csrf_token"):
                    value = rec[key]
                    field.data = ", ".join(value) if isinstance(value, list) else value
    return form


def _render_line(form, status: int = 200, rec: dict | None = None):
    kind = form.kind.data
    return render_template("lines/line_form.html", form=form, kind=kind, editing=bool(form.original.data),
                           secret_set=bool(rec and (rec.get("password") or rec.get("pin")))), status


@bp.route("/line")
@admin_required
def line_page():
    """``?kind=gsm|fxo|sip``: a new line; ``?id=gsm1``: change that line."""
    line_id = request.args.get("id")
    if line_id is None:
        kind = request.args.get("kind", "gsm")
        if kind not in FORMS:
            abort(404)
        return _render_line(_line_form(kind))
    rec = service.find(get_box().store.callcenter_tables()["lines"], line_id)
    if rec is None:
        abort(404)
    return _render_line(_line_form(rec.get("kind", "gsm"), rec), rec=rec)


@bp.route("/save", methods=["POST"])
@admin_required
def save():
    kind = request.form.get("kind", "")
    if kind not in FORMS:
        abort(400)
    box = get_box()
    current = box.store.callcenter_tables()
    original = request.form.get("original") or None
    stored = service.find(current["lines"], original) if original else None
    if original and stored is None:
        abort(404)
    if stored is not None and stored.get("kind", "gsm") != kind:
        abort(400)
    form = _line_form(kind, stored, formdata=request.form)
    if original:
        form.id.data = original                       # a line keeps its name
    if not form.validate_on_submit():
        return _render_line(form, 400, stored)
    rec = form.record()
    clear = ("pin",) if kind == "gsm" and form.clear_pin.data else ()
    try:
        applied = service.write(box, lambda tables: service.put_line(tables, rec, original=original, clear=clear))
    except ConfigError as exc:
        attach(form, exc, f"lines.{rec['id']}")
        return _render_line(form, 400, stored)
    flash(gettext("Line %(line)s saved.", line=rec["id"]), "success")
    _applied_notice(applied)
    return redirect(url_for("lines.index"))


@bp.route("/remove", methods=["POST"])
@admin_required
def remove():
    form = ContinueForm()
    line_id = request.form.get("id", "")
    if not form.validate_on_submit():
        abort(400)
    box = get_box()
    try:
        applied = service.write(box, lambda tables: service.remove_line(tables, line_id))
    except ConfigError as exc:
        flash(gettext("Line %(line)s was not removed: %(field)s %(message)s", line=line_id, field=exc.field,
                      message=translate(exc.message)), "error")
        return redirect(url_for("lines.index"))
    flash(gettext("Line %(line)s removed.", line=line_id), "success")
    _applied_notice(applied)
    return redirect(url_for("lines.index"))


def _route_form(rec: dict | None = None, formdata=None):
    form = OutboundRouteForm(formdata=formdata)
    if formdata is None and rec is not None:
        form.original.data = rec["id"]
        form.id.data = rec["id"]
        form.patterns.data = "\n".join(rec.get("patterns", []))
        form.lines.data = ", ".join(rec.get("lines", []))
        form.extensions.data = ", ".join(rec.get("extensions", ["*"]))
        form.strip.data = rec.get("strip", 0)
        form.prepend.data = rec.get("prepend", "")
    return form


def _render_route(form, status: int = 200):
    tables = get_box().store.callcenter_tables()
    return render_template("lines/route_form.html", form=form, editing=bool(form.original.data),
                           line_ids=[l["id"] for l in tables["lines"]]), status


@bp.route("/route")
@admin_required
def route_page():
    """A new outbound route; ``?id=mobile``: change that route."""
    route_id = request.args.get("id")
    if route_id is None:
        return _render_route(_route_form())
    rec = service.find(get_box().store.callcenter_tables()["outbound_routes"], route_id)
    if rec is None:
        abort(404)
    return _render_route(_route_form(rec))


@bp.route("/routes/save", methods=["POST"])
@admin_required
def save_route():
    box = get_box()
    current = box.store.callcenter_tables()
    original = request.form.get("original") or None
    if original and service.find(current["outbound_routes"], original) is None:
        abort(404)
    form = _route_form(formdata=request.form)
    if original:
        form.id.data = original
    if not form.validate_on_submit():
        return _render_route(form, 400)
    rec = form.record()
    try:
        applied = service.write(box, lambda tables: service.put_route(tables, rec, original=original))
    except ConfigError as exc:
        attach(form, exc, f"outbound_routes.{rec['id']}")
        return _render_route(form, 400)
    flash(gettext("Outbound route %(route)s saved.", route=rec["id"]), "success")
    _applied_notice(applied)
    return redirect(url_for("lines.index"))


@bp.route("/routes/remove", methods=["POST"])
@admin_required
def remove_route():
    form = ContinueForm()
    route_id = request.form.get("id", "")
    if not form.validate_on_submit():
        abort(400)
    box = get_box()
    try:
        applied = service.write(box, lambda tables: service.remove_route(tables, route_id))
    except ConfigError as exc:
        flash(f"{exc.field}: {translate(exc.message)}", "error")
        return redirect(url_for("lines.index"))
    flash(gettext("Outbound route %(route)s removed.", route=route_id), "success")
    _applied_notice(applied)
    return redirect(url_for("lines.index"))


def _text_form(formdata=None):
    form = TextForm(formdata=formdata)
    ids = [l["id"] for l in get_box().store.callcenter_tables()["lines"]]
    form.line.choices = choices([("", gettext("any working line"))] + [(i, i) for i in ids])
    return form


def _render_texts(form, status: int = 200):
    box = get_box()
    try:
        texts, reachable = box.core("sms-list", limit=100), True
    except ControlError:
        texts, reachable = [], False
    return render_template("lines/texts.html", form=form, texts=texts, core_reachable=reachable), status


@bp.route("/texts")
@admin_required
def texts():
    return _render_texts(_text_form())


@bp.route("/texts", methods=["POST"])
@admin_required
def send_text():
    form = _text_form(request.form)
    if not form.validate_on_submit():
        return _render_texts(form, 400)
    number = (form.number.data or "").strip().replace(" ", "")
    if not number.lstrip("+").isdigit() or number.count("+") > 1 or "+" in number[1:]:
        form.number.errors = list(form.number.errors) + [gettext("must be a phone number (digits, + in front)")]
        return _render_texts(form, 400)
    try:
        result = get_box().core("sms-send", number=number, text=form.text.data, line=form.line.data or None)
    except ControlError as exc:
        if isinstance(exc.__cause__, OSError):
            form.form_errors_extra.append(gettext("The phone system core is not running; texts cannot be "
                                                  "sent now."))
        else:
            form.form_errors_extra.append(translate(str(exc)))
        return _render_texts(form, 409)
    flash(gettext("Text to %(number)s queued on line %(line)s.", number=number, line=result.get("line")),
          "success")
    return redirect(url_for("lines.texts"))
