"""The JSON API: what the pages do, for the dashboard's polling and for scripts.

Same login and roles as the pages (session cookie); every state-changing
call needs the ``X-CSRFToken`` header (``GET /api/session`` gives the
token). Errors are ``{"error": message, "field": dotted.path}`` with 400
(refused value), 401 (not logged in), 403 (role), 404, 503 (core down or
setup not done). Described in ``GET /api/openapi.json``.
"""
from __future__ import annotations


from flask import Blueprint, jsonify, request
from flask_babel import gettext
from flask_wtf.csrf import generate_csrf

from firmware.errors import ConfigError, ControlError
from web.box import get_box, get_calllog
from web.dashboard import live
from web.extensions import service
from web.i18n import N_, page_language, translate_error
from web.security import admin_required, current_user, login_required, public
from web.api.openapi import spec
from web.callcenter import api as callcenter_api

bp = Blueprint("api", __name__, url_prefix="/api")
AGENT_ACTIONS = ("login", "logout", "pause", "unpause")
callcenter_api.add_routes(bp)       # /api/callcenter/... (web/callcenter/api.py)


@bp.errorhandler(ConfigError)
def config_error(exc: ConfigError):
    return jsonify({"error": translate_error(exc.message), "field": exc.field}), 400


@bp.errorhandler(ControlError)
def control_error(exc: ControlError):
    if _unreachable(exc):
        return jsonify({"error": str(exc), "core": "unreachable"}), 503
    return jsonify({"error": str(exc), "core": "refused"}), 409


def _unreachable(exc: ControlError) -> bool:
    return isinstance(exc.__cause__, OSError)


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ConfigError("(body)", N_("must be a JSON object"))
    return body


def _text(body: dict, key: str, default: str = "") -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(key, N_("must be text"))
    return value


@bp.route("/openapi.json")
@public
def openapi():
    return jsonify(spec())


@bp.route("/session")
@login_required
def session_info():
    user = current_user()
    return jsonify({"user": user.username, "role": user.role, "extension": user.extension,
                    "language": page_language(), "csrf_token": generate_csrf(),
                    "setup_done": get_box().state.wizard_done()})


@bp.route("/status")
@login_required
def status():
    return jsonify(live.collect(get_box(), current_user()))


@bp.route("/panel")
@admin_required
def panel():
    info = get_box().core("panel")
    return jsonify({k: info.get(k) for k in ("page", "leds", "display", "png_base64")})


@bp.route("/calls")
@login_required
def calls():
    user = current_user()
    agent = request.args.get("agent") or None
    if not user.is_admin:
        if agent not in (None, user.extension):
            return jsonify({"error": gettext("agents see only their own calls")}), 403
        agent = user.extension
    day = request.args.get("day")
    if day:
        from web.records.history import parse_date
        day = parse_date(day, "day").isoformat()      # years 2000-2100: refused by field, never a 500
    try:
        limit = min(max(int(request.args.get("limit", 100)), 1), 500)
    except ValueError:
        raise ConfigError("limit", N_("must be a whole number")) from None
    since, until = live.day_bounds(get_box(), day)
    rows = get_calllog().calls(since, until, agent=agent, limit=limit)
    return jsonify({"calls": [live.public_call(r) for r in rows]})


# -- call history, recordings, voicemail (web/records) and reports (web/reports) ------------------
# Downloads take opaque ids (a call's uid, a message's id), never a path; an
# agent gets only its own calls and mailbox. Path arguments are named
# ``number`` (a mailbox) and ``filename`` (``<id>.wav``).
def _download() -> bool:
    return request.args.get("download") in ("1", "true", "yes")


@bp.route("/history")
@login_required
def history():
    from web.records import service as records
    return jsonify(records.history_json(records.history_page(request.args, current_user(), get_box())))


@bp.route("/history.csv")
@login_required
def history_csv():
    from web.records import service as records
    return records.csv_response(request.args, current_user(), get_box())


@bp.route("/recordings/<filename>")
@login_required
def recording(filename: str):
    from web.records import service as records
    response = records.recording_response(filename, current_user(), get_box(), _download())
    return response if response is not None else (jsonify({"error": gettext("no such recording")}), 404)


@bp.route("/voicemail")
@login_required
def voicemail():
    from web.records import service as records
    listing = records.voicemail_listing(current_user(), get_box(), request.args.get("mailbox") or None)
    return jsonify(listing) if listing is not None else (jsonify({"error": gettext("no such mailbox")}), 404)


@bp.route("/voicemail/<number>/<filename>")
@login_required
def voicemail_audio(number: str, filename: str):
    from web.records import service as records
    response = records.message_response(number, filename, current_user(), get_box(), _download())
    return response if response is not None else (jsonify({"error": gettext("no such message")}), 404)


@bp.route("/voicemail/<number>/<filename>", methods=["DELETE"])
@login_required
def delete_voicemail(number: str, filename: str):
    from web.records import files
    if not files.delete_message(get_box(), current_user(), number, filename):
        return jsonify({"error": gettext("no such message")}), 404
    return jsonify({"mailbox": number, "deleted": filename[:-len(".wav")]})


@bp.route("/reports")
@admin_required
def reports():
    from web.reports.views import figures
    return jsonify(figures(request.args))


@bp.route("/agents/<extension>/<action>", methods=["POST"])
@login_required
def agent_action(extension: str, action: str):
    user = current_user()
    if not user.is_admin and extension != user.extension:
        return jsonify({"error": gettext("agents may change only their own status")}), 403
    if action not in AGENT_ACTIONS:
        return jsonify({"error": gettext("action must be one of %(actions)s", actions=", ".join(AGENT_ACTIONS))}), 404
    reason = _text(_json_body(), "reason", "break")[:32] or "break"
    result = get_box().core(f"agent-{action}", extension=extension, reason=reason)
    return jsonify(result)


@bp.route("/time-conditions/<tc_id>/override", methods=["POST"])
@admin_required
def override(tc_id: str):
    mode = _json_body().get("mode")
    if mode not in ("open", "closed", "auto"):
        raise ConfigError("mode", N_("must be open, closed or auto"))
    box = get_box()
    try:
        return jsonify(box.core("override", id=tc_id, mode=None if mode == "auto" else mode))
    except ControlError as exc:
        if not _unreachable(exc):
            raise
    box.store.set_override(tc_id, None if mode == "auto" else mode)     # applied when the core starts
    return jsonify({"id": tc_id, "override": mode, "applied": False})


@bp.route("/extensions")
@admin_required
def extensions():
    status, _core = live.core_status(get_box())
    regs = None if status is None else status.get("registrations", [])
    return jsonify({"extensions": service.listing(get_box(), regs)})


@bp.route("/extensions", methods=["POST"])
@admin_required
def add_extension():
    body = _json_body()
    web_login = body.get("web_login", False)
    if not isinstance(web_login, bool):
        raise ConfigError("web_login", N_("must be true or false"))
    result = service.add(get_box(), _text(body, "number"), _text(body, "name"), web_login=web_login)
    result["account"].pop("qr_svg", None)
    return jsonify(result), 201


@bp.route("/extensions/<number>", methods=["DELETE"])
@admin_required
def remove_extension(number: str):
    return jsonify(service.remove(get_box(), number))


@bp.route("/extensions/<number>/password", methods=["POST"])
@admin_required
def reset_password(number: str):
    result = service.reset_sip_password(get_box(), number)
    result["account"].pop("qr_svg", None)
    return jsonify(result)


@bp.route("/extensions/<number>/web-login", methods=["POST"])
@admin_required
def reset_web_login(number: str):
    return jsonify(service.reset_web_login(get_box(), number))


@bp.route("/extensions/<number>/web-login", methods=["DELETE"])
@admin_required
def remove_web_login(number: str):
    box = get_box()
    gone = box.users.remove_extension_logins(number)
    if not gone:
        return jsonify({"error": gettext("this extension has no web login")}), 404
    return jsonify({"removed": gone})


# -- lines, trunks and texts (web/lines); system, backup and restore (web/system) ------------------
# A line's path argument is named ``tc_id``: it is the name the route walker
# of the CSRF test (tests/webui/test_security.py ARGS) and the OpenAPI check
# know, published as ``{id}``.
@bp.route("/lines")
@admin_required
def lines():
    from web.lines import service as line_service
    box = get_box()
    live_lines = line_service.live_lines(box)
    return jsonify({"core": {"reachable": live_lines is not None},
                    "lines": line_service.listing(box, live_lines),
                    "outbound_routes": box.store.callcenter_tables()["outbound_routes"],
                    "events": line_service.line_events(box, 50) or []})


@bp.route("/lines/<tc_id>", methods=["PUT"])
@admin_required
def put_line(tc_id: str):
    from web.lines import service as line_service
    body = _json_body()
    box = get_box()
    # A password or PIN left out (or "") keeps the stored one; null removes it.
    clear = tuple(k for k in line_service.SECRET_FIELDS if k in body and body[k] is None)
    rec = {k: v for k, v in body.items() if k not in clear}
    rec["id"] = tc_id
    existed = []

    def change(tables):             # on the tables as they are under the store's lock
        exists = line_service.find(tables["lines"], tc_id) is not None
        existed.append(exists)
        return line_service.put_line(tables, rec, original=tc_id if exists else None, clear=clear)

    applied = line_service.write(box, change)
    saved = line_service.find(box.store.callcenter_tables()["lines"], tc_id)
    return jsonify({"line": line_service.public_line(saved), "applied": applied}), 200 if existed[-1] else 201


@bp.route("/lines/<tc_id>", methods=["DELETE"])
@admin_required
def delete_line(tc_id: str):
    from web.lines import service as line_service
    box = get_box()
    if line_service.find(box.store.callcenter_tables()["lines"], tc_id) is None:
        return jsonify({"error": gettext("no such line"), "field": f"lines.{tc_id}"}), 404
    applied = line_service.write(box, lambda tables: line_service.remove_line(tables, tc_id))
    return jsonify({"removed": tc_id, "applied": applied})


@bp.route("/sms")
@admin_required
def sms_list():
    try:
        limit = min(max(int(request.args.get("limit", 50)), 1), 500)
    except ValueError:
        raise ConfigError("limit", N_("must be a whole number")) from None
    return jsonify({"texts": get_box().core("sms-list", limit=limit)})


@bp.route("/sms", methods=["POST"])
@admin_required
def sms_send():
    body = _json_body()
    number = _text(body, "number").strip()
    text = _text(body, "text")
    line = _text(body, "line").strip() or None
    if not number.lstrip("+").isdigit() or len(number) > 32 or "+" in number[1:]:
        raise ConfigError("number", N_("must be a phone number (digits, + in front)"))
    if not 1 <= len(text) <= 1000:
        raise ConfigError("text", N_("a text must have 1 to 1000 characters"))
    return jsonify(get_box().core("sms-send", number=number, text=text, line=line))


# -- calls the box places for the owner (web/servicecalls.py) --------------------------------------
# A job's path argument is named ``tc_id`` too (the route walkers' name), published as ``{id}``.
def _service_call(begin, status: int = 202):
    from web import servicecalls
    try:
        return jsonify(begin()), status
    except ControlError as exc:
        return (jsonify({"error": servicecalls.core_error(exc),
                         "core": "unreachable" if _unreachable(exc) else "refused"}),
                servicecalls.error_status(exc))


@bp.route("/prompts/record", methods=["POST"])
@admin_required
def record_prompt():
    from web import servicecalls
    body = _json_body()
    extension, name, language = (_text(body, k).strip() for k in ("extension", "name", "language"))
    return _service_call(lambda: servicecalls.record_prompt(get_box(), extension, name, language))


@bp.route("/lines/<tc_id>/test-call", methods=["POST"])
@admin_required
def line_test_call(tc_id: str):
    from web import servicecalls
    box = get_box()
    if tc_id not in servicecalls.line_ids(box):
        return jsonify({"error": gettext("no such line"), "field": f"lines.{tc_id}"}), 404
    number = _text(_json_body(), "number")
    return _service_call(lambda: servicecalls.test_call(box, tc_id, number))


@bp.route("/service-calls/<tc_id>")
@admin_required
def service_call(tc_id: str):
    from web import servicecalls
    return _service_call(lambda: servicecalls.status(get_box(), tc_id), 200)


@bp.route("/system")
@admin_required
def system():
    from flask import current_app

    from web.system import info
    return jsonify(info.collect(get_box(), current_app.config))


@bp.route("/system/restart", methods=["POST"])
@admin_required
def restart():
    when = _json_body().get("when", "idle")
    if when not in ("idle", "now", "cancel"):
        raise ConfigError("when", N_("must be idle, now or cancel"))
    return jsonify(get_box().core("restart", when=when))


@bp.route("/backup")
@admin_required
def backup():
    from web.system import backup as box_backup
    from web.system.views import download
    return download(box_backup.make(get_box()))


@bp.route("/restore", methods=["POST"])
@admin_required
def restore():
    from web.system import backup as box_backup
    passphrase = box_backup.header_passphrase(request.headers.get("X-Backup-Passphrase"))
    return jsonify(box_backup.restore(get_box(), request.get_data(), passphrase))
