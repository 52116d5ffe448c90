"""First boot: the setup wizard, in steps.

1. admin password (only while no admin exists; then the owner is logged in)
2. language and time zone (``settings.language``; the zone is the web's own)
3. the phone line: GSM (modem port, vendor, SIM PIN), the simulated modem, or none
4. agents' extensions (SIP credentials and a QR block, shown once)
5. business hours      6. greeting      7. queue → finish

Steps 5-7 fill a draft (``DATA/web/state.json``); the last step writes the
route, time condition, menu and queue to the config store at once and marks
the wizard done. After that every wizard URL leads to the dashboard and
changes nothing: the wizard works once.
"""
from __future__ import annotations

import re
from zoneinfo import available_timezones

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext, lazy_gettext as _l

from firmware.errors import ConfigError
from firmware.hw.platform import detect_platform
from firmware.telephony import timeconditions as tc
from web import greeting as greeting_mod
from web import servicecalls
from web.box import get_box
from web.extensions import service
from web.forms import attach_error, choices
from web.i18n import BOX_LANGUAGE, N_, page_language
from web.lines import service as line_service
from web.lines.forms import WIZARD_LINE_CHOICES, WizardLineForm
from web.security import admin_required, current_user, log_in, public
from web.wizard import plan
from web.wizard.forms import ExtensionForm, GreetingForm, HoursForm, PasswordForm, QueueForm, RegionForm

bp = Blueprint("wizard", __name__, url_prefix="/setup")

STEPS = [
    ("password", _l("Admin password")),
    ("region", _l("Language and time zone")),
    ("line", _l("Phone line")),
    ("extensions", _l("Extensions")),
    ("hours", _l("Business hours")),
    ("greeting", _l("Greeting")),
    ("queue", _l("Queue")),
]
STEP_INDEX = {name: i for i, (name, _label) in enumerate(STEPS)}
_SPLIT = re.compile(r"[\s,;，；、]+")


@bp.before_request
def only_once():
    """The wizard works once: after it, nothing here changes anything.

    The one exception: after an admin-password reset from the box (no admin
    any more), the password step opens again, and only it.
    """
    box = get_box()
    if not box.state.wizard_done():
        return None
    if not box.users.has_admin() and request.endpoint in ("wizard.password", "wizard.start"):
        return None
    flash(gettext("Setup is complete. Change settings from the menu."), "info")
    return redirect(url_for("dashboard.index"))


def _render(step: str, form=None, status: int = 200, **ctx):
    wiz = get_box().state.wizard()
    reached = max(wiz["step"], STEP_INDEX[step])
    return render_template(f"wizard/{step}.html", form=form, steps=STEPS, current=STEP_INDEX[step],
                           reached=reached, **ctx), status


def _next(step: str, **draft):
    index = STEP_INDEX[step] + 1
    get_box().state.save_step(index, **draft)
    return redirect(url_for(f"wizard.{STEPS[index][0]}")) if index < len(STEPS) else None


def _allowed(step: str):
    """A step not reached yet leads to the first one not done."""
    if STEP_INDEX[step] > get_box().state.wizard()["step"]:
        return redirect(url_for("wizard.resume"))
    return None


@bp.route("/")
@public
def start():
    box = get_box()
    if not box.users.has_admin():
        return redirect(url_for("wizard.password"))
    return redirect(url_for("wizard.resume") if current_user() else url_for("auth.login"))


@bp.route("/resume")
@admin_required
def resume():
    step = min(get_box().state.wizard()["step"], len(STEPS) - 1)
    return redirect(url_for(f"wizard.{STEPS[max(step, 1)][0]}"))


@bp.route("/password", methods=["GET", "POST"])
@public
def password():
    box = get_box()
    if box.users.has_admin():
        return redirect(url_for("wizard.start"))
    form = PasswordForm()
    if form.validate_on_submit():
        if form.password.data != form.confirm.data:
            form.confirm.errors = list(form.confirm.errors) + [gettext("The two passwords differ.")]
        else:
            try:
                created = box.users.create_first_admin(form.username.data.strip(), form.password.data)
            except ConfigError as exc:
                attach_error(form, exc)
            else:
                if not created:          # someone else was quicker
                    return redirect(url_for("auth.login"))
                log_in(box.users.get(form.username.data.strip()))
                if box.state.wizard_done():          # a new password after a reset: nothing else to set up
                    return redirect(url_for("dashboard.index"))
                return _next("password")
    status = 400 if request.method == "POST" else 200
    return _render("password", form, status)


@bp.route("/region", methods=["GET", "POST"])
@admin_required
def region():
    box = get_box()
    form = RegionForm()
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    form.timezone.choices = choices((z, z.replace("_", " ")) for z in zones)
    if request.method == "GET":
        done = box.state.wizard()["step"] > STEP_INDEX["region"]
        form.language.data = box.store.settings()["language"] if done else BOX_LANGUAGE[page_language()]
        form.timezone.data = box.state.timezone_name()
    if form.validate_on_submit():
        try:
            if form.timezone.data not in zones:
                raise ConfigError("timezone", "must be a time zone name like Asia/Shanghai")
            box.store.update_settings(language=form.language.data)
        except ConfigError as exc:
            attach_error(form, exc)
        else:
            box.state.set_timezone(form.timezone.data)
            session["lang"] = "zh" if form.language.data == "zh_CN" else "en"
            box.apply_config()
            return _next("region")
    return _render("region", form, 400 if request.method == "POST" else 200,
                   zone_was_chosen=box.state.wizard()["step"] > STEP_INDEX["region"])


@bp.route("/line", methods=["GET", "POST"])
@admin_required
def line():
    """The shop's GSM line (modem port, vendor, SIM PIN), the simulated modem, or none yet.

    Kept in the draft (its route is made at the last step) and written with
    the call center, through the same path as the lines page
    (:mod:`web.lines.service`). A stored PIN is not shown again.
    """
    if (refused := _allowed("line")) is not None:
        return refused
    box = get_box()
    saved = box.state.wizard()["draft"].get("line")
    simulated = detect_platform().simulated
    form = WizardLineForm()
    form.choice.choices = choices(c for c in WIZARD_LINE_CHOICES if c[0] != "sim" or simulated)
    if request.method == "GET" and saved:
        form.choice.data = "sim" if saved.get("device") == "sim" else "gsm"
        if saved.get("device") != "sim":
            form.device.data, form.vendor.data = saved.get("device"), saved.get("vendor", "sim7600")
            form.pcm_device.data = saved.get("pcm_device", "")
    if form.validate_on_submit():
        choice = form.choice.data or "skip"
        pin = (form.pin.data or "").strip()
        if not pin and choice == "gsm" and saved and saved.get("device") != "sim":
            pin = saved.get("pin", "")                 # left empty: the PIN typed before stays
        rec = line_service.wizard_record(choice, (form.device.data or "").strip(), form.vendor.data, pin,
                                         (form.pcm_device.data or "").strip())
        try:
            if choice == "gsm" and not rec["device"]:
                raise ConfigError("device", N_("must not be empty"))
            if rec is not None:
                line_service.check_wizard_line(rec)
        except ConfigError as exc:
            attach_error(form, exc)
        else:
            return _next("line", line=rec)
    return _render("line", form, 400 if request.method == "POST" else 200, simulated=simulated,
                   pin_saved=bool((saved or {}).get("pin")), **_test_call_context(box, saved))


def _test_call_context(box, saved: dict | None) -> dict:
    """The test call, for the lines the core runs (those in the config).

    The wizard's own line waits in the draft until the last step (its calls
    need the route made there), so in a first setup there is none yet: the
    page says so and points to the Lines page.
    """
    lines = servicecalls.line_ids(box)
    if not lines:
        return {"test_lines": [], "test_job": None, "test_core": None, "line_in_draft": bool(saved)}
    job, core_up = servicecalls.session_job(box, "test_call_job")
    return {"test_lines": lines, "test_job": job, "test_core": core_up, "line_in_draft": bool(saved)}


@bp.route("/extensions", methods=["GET", "POST"])
@admin_required
def extensions():
    if (refused := _allowed("extensions")) is not None:
        return refused
    box = get_box()
    form = ExtensionForm()
    created, status = None, 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                created = service.add(box, (form.number.data or "").strip(), (form.name.data or "").strip(),
                                      web_login=form.web_login.data)
            except ConfigError as exc:
                attach_error(form, exc, {"web_login": "number"})
            else:
                status = 201
                form = ExtensionForm(formdata=None)
    return _render("extensions", form, status, created=created, extensions=service.listing(box, None))


@bp.route("/extensions/next", methods=["POST"])
@admin_required
def extensions_next():
    if (refused := _allowed("extensions")) is not None:
        return refused
    return _next("extensions")


def _dates(text: str, field: str) -> list[str]:
    items = [d for d in _SPLIT.split(text or "") if d]
    tc.parse_dates(items, field)                       # ConfigError names the field
    return items


@bp.route("/hours", methods=["GET", "POST"])
@admin_required
def hours():
    if (refused := _allowed("hours")) is not None:
        return refused
    box = get_box()
    draft = box.state.wizard()["draft"]
    form = HoursForm()
    if request.method == "GET":
        spec = draft.get("hours", plan.DEFAULT_HOURS)
        for day in plan.DAYS:
            getattr(form, day).data = ", ".join(spec.get(day, []))
        form.holidays.data = "\n".join(draft.get("holidays", []))
        form.extra_workdays.data = "\n".join(draft.get("extra_workdays", []))
        form.closed.data = draft.get("closed", "announcement")
    if form.validate_on_submit():
        try:
            spec = {}
            for day in plan.DAYS:
                ranges = [r for r in _SPLIT.split((getattr(form, day).data or "").replace("–", "-")) if r]
                if ranges:
                    spec[day] = ranges
            tc.parse_hours(spec, field="hours")
            changes = {"hours": spec, "holidays": _dates(form.holidays.data, "holidays"),
                       "extra_workdays": _dates(form.extra_workdays.data, "extra_workdays"),
                       "closed": form.closed.data}
            plan.validate(box.store, {**draft, **changes}, box.state.timezone_name())
        except ConfigError as exc:
            attach_error(form, exc)
        else:
            return _next("hours", **changes)
    return _render("hours", form, 400 if request.method == "POST" else 200)


@bp.route("/greeting", methods=["GET", "POST"])
@admin_required
def greeting():
    if (refused := _allowed("greeting")) is not None:
        return refused
    box = get_box()
    language = box.store.settings()["language"]
    form = GreetingForm()
    exts = box.store.extensions()
    form.extension.choices = choices((e["number"], f"{e['number']} {e.get('name', '')}".strip()) for e in exts)
    job, core_up = servicecalls.session_job(box, "greeting_job")
    if request.method == "GET":
        form.mode.data = "tts" if box.state.wizard()["draft"].get("greeting_text") else "default"
        form.text.data = box.state.wizard()["draft"].get("greeting_text", "")
        if job is not None:
            form.mode.data, form.extension.data = "phone", job["target"]
    if form.validate_on_submit():
        try:
            if form.mode.data == "default":
                return _next("greeting", greeting=None, greeting_text="")
            if form.mode.data == "tts":
                greeting_mod.install_spoken(box.paths.prompts, form.text.data, language)
                return _next("greeting", greeting=greeting_mod.PROMPT, greeting_text=(form.text.data or "").strip())
            if form.mode.data == "phone":
                _check_phone_recording(job)
                greeting_mod.install_recorded(box.paths.prompts, language)
                session.pop("greeting_job", None)
                return _next("greeting", greeting=greeting_mod.PROMPT, greeting_text="")
            if not form.audio.data:
                raise ConfigError("audio", N_("Please choose a file."))
            greeting_mod.install_upload(box.paths.prompts, form.audio.data, language)
            return _next("greeting", greeting=greeting_mod.PROMPT, greeting_text="")
        except ConfigError as exc:
            attach_error(form, exc, {"prompt.file": "audio", "prompt.language": "mode"})
    return _render("greeting", form, 400 if request.method == "POST" else 200,
                   has_greeting=greeting_mod.installed(box.paths.prompts, language) is not None,
                   job=job, core_up=core_up, has_extensions=bool(exts))


def _check_phone_recording(job: dict | None) -> None:
    """The call this session started must be over and saved (without one, the greeting recorded before counts)."""
    if job is None:
        return
    if not job["finished"]:
        raise ConfigError("mode", N_("The call is not over yet: wait until the recording is saved."))
    if not job["ok"]:
        raise ConfigError("mode", N_("The last call did not record anything: call again, or choose another way."))


@bp.route("/greeting/call", methods=["POST"])
@admin_required
def greeting_call():
    """Record the greeting by phone: the core rings the extension chosen and records it.

    Recorded in the box's language (the one the greeting step installs
    first and ``greeting.wav`` plays); "Save and continue" installs it for
    the other language too (:func:`web.greeting.install_recorded`).
    """
    if (refused := _allowed("greeting")) is not None:
        return refused
    box = get_box()
    language = box.store.settings()["language"]
    extension = (request.form.get("extension") or "").strip()
    return servicecalls.start("greeting_job", lambda: servicecalls.record_prompt(
        box, extension, greeting_mod.PROMPT, language), url_for("wizard.greeting"))


@bp.route("/greeting.wav")
@admin_required
def greeting_audio():
    box = get_box()
    path = greeting_mod.installed(box.paths.prompts, box.store.settings()["language"])
    if path is None:
        abort(404)
    return send_file(path, mimetype="audio/wav", max_age=0)


@bp.route("/queue", methods=["GET", "POST"])
@admin_required
def queue():
    if (refused := _allowed("queue")) is not None:
        return refused
    box = get_box()
    draft = box.state.wizard()["draft"]
    exts = box.store.extensions()
    form = QueueForm()
    form.members.choices = choices((e["number"], f"{e['number']} {e.get('name', '')}".strip()) for e in exts)
    if request.method == "GET":
        saved = {**plan.DEFAULT_QUEUE, **(draft.get("queue") or {})}
        form.name.data = saved["name"] or gettext("Shop")
        form.strategy.data = saved["strategy"]
        form.members.data = saved["members"] if saved["members"] is not None else [e["number"] for e in exts]
        form.ring_timeout_s.data = saved["ring_timeout_s"]
        form.wrapup_s.data = saved["wrapup_s"]
        form.recording.data = saved["recording"]
        form.route_number.data = saved["route_number"]
    if form.validate_on_submit():
        queue_draft = {"name": (form.name.data or "").strip(), "strategy": form.strategy.data,
                       "members": list(form.members.data or []), "ring_timeout_s": form.ring_timeout_s.data,
                       "wrapup_s": form.wrapup_s.data, "recording": form.recording.data,
                       "route_number": (form.route_number.data or "").strip()}
        try:
            _check_name(queue_draft["name"])
            full = {**draft, "queue": queue_draft}
            plan.validate(box.store, full, box.state.timezone_name())
            box.state.save_step(STEP_INDEX["queue"], queue=queue_draft)
            # The call center and the line chosen at the line step, in one write (all valid, or
            # nothing), made from the tables as they are under the store's lock: nothing another
            # writer stored meanwhile is undone.
            timezone = box.state.timezone_name()

            def put_wizard(tables):
                plan.put(tables, full, [e["number"] for e in box.store.extensions()], timezone)
                tables["lines"] = line_service.with_wizard_line(
                    {"lines": tables["lines"]}, tables["lines"], draft.get("line"),
                    queue_draft["route_number"])["lines"]

            box.store.update_callcenter(put_wizard)
        except ConfigError as exc:
            attach_error(form, exc, {"number": "route_number"})      # routes.<number>.number
        else:
            box.state.finish_wizard()
            reloaded = box.apply_config()
            flash(gettext("Setup is complete. Dial %(number)s from any extension to hear what callers hear.",
                          number=queue_draft["route_number"]), "success")
            if not reloaded:
                flash(gettext("The phone system core is not running; the settings take effect when it starts."),
                      "warning")
            return redirect(url_for("dashboard.index"))
    return _render("queue", form, 400 if request.method == "POST" else 200, has_extensions=bool(exts))


def _check_name(name: str) -> None:
    if any(ord(ch) < 32 or ch in '"\\' for ch in name):
        raise ConfigError("name", N_('must not contain control characters, " or \\'))
