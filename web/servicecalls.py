"""Calls the box places for the owner, from the web: record a prompt by
phone (the wizard's greeting) and a test call through a line.

The core does the calling (``firmware/core/service_calls.py``): the
control commands ``record-prompt`` {extension, name, language} and
``test-call`` {line, number} start a job, ``service-call`` {id} reports
its state: ``calling``, ``recording`` / ``playing``, ``saving``,
``saved`` / ``done`` or ``failed: why``. Here the owner's input is checked
first (a refusal names its field, like the config store's), the job is
given a translated ``label`` and ``finished`` / ``ok`` flags for the pages
(``static/servicecalls.js`` polls ``GET /api/service-calls/<id>`` until
``finished``), and the core's refusals are translated.

Pages start a job with a plain form post (``POST /setup/greeting/call``,
``POST /lines/test-call``): a browser without the script is sent back to
the page, which shows the job kept in the session; the script asks for
JSON (``Accept: application/json``) and follows the job live.
"""
from __future__ import annotations

import re

from flask import flash, jsonify, redirect, request, session
from flask_babel import gettext, lazy_gettext as _l

from firmware.core.prompts import PROMPT_NAME, VOICES
from firmware.errors import ConfigError, ControlError
from web.i18n import N_, translate_error

FINISHED_OK = ("saved", "done")
STATES = {
    "calling": _l("The box is calling …"),
    "recording": _l("Recording: speak after the beep, then press # or hang up."),
    "playing": _l("Answered: the box plays its test message."),
    "saving": _l("Saving the recording …"),
    "saved": _l("Saved."),
    "done": _l("Done: the line called out and the box's voice went through."),
}
# Why a job failed (after "failed: "), and the core's refusals, as the core words them.
REASONS = [
    (re.compile(r"not answered \((?P<code>\d+)\)"), N_("not answered (%(code)s)")),
    (re.compile(r"not answered"), N_("not answered")),
    (re.compile(r"hung up before the beep"), N_("hung up before the beep")),
    (re.compile(r"the recording could not start"), N_("the recording could not start")),
    (re.compile(r"all call slots are in use"), N_("all call slots are in use")),
    (re.compile(r"cannot call (?P<value>[^:]+): .*", re.S), N_("cannot call %(value)s")),
    (re.compile(r"no line '(?P<value>[^']*)'"), N_("no line %(value)s")),
    (re.compile(r"line (?P<line>\S+) is in a call"), N_("line %(line)s is in a call")),
    (re.compile(r"line (?P<line>\S+) is (?P<state>\S+)"), N_("line %(line)s is not working now (%(state)s)")),
    (re.compile(r"extension '(?P<value>[^']*)' does not exist"), N_("extension %(value)s does not exist")),
    (re.compile(r"not a phone number: .*", re.S), N_("must be a phone number (digits, + in front)")),
    (re.compile(r"no such job .*", re.S), N_("no such call")),
]


def translate(message: str) -> str:
    """A reason or refusal of the core in the page's language (an unknown one as it is)."""
    message = (message or "").strip()
    for pattern, msgid in REASONS:
        match = pattern.fullmatch(message)
        if match:
            groups = match.groupdict()
            if "state" in groups:
                from web.lines.views import line_state_label
                groups["state"] = line_state_label(groups["state"])
            return gettext(msgid, **groups)
    return translate_error(message)


def label(state: str) -> str:
    if state.startswith("failed"):
        return gettext("Failed: %(why)s", why=translate(state.partition(":")[2]) or gettext("unknown"))
    return str(STATES.get(state, state))


def public(job: dict) -> dict:
    """The core's job, with what a page shows."""
    state = str(job.get("state") or "")
    out = {k: job.get(k, "") for k in ("id", "kind", "target", "state", "name", "language", "line")}
    out.update(finished=state in FINISHED_OK or state.startswith("failed"), ok=state in FINISHED_OK,
               label=label(state))
    return out


def unreachable(exc: ControlError) -> bool:
    return isinstance(exc.__cause__, OSError)


def unknown_job(exc: ControlError) -> bool:
    return not unreachable(exc) and str(exc).startswith("no such job")


def core_error(exc: ControlError) -> str:
    if unreachable(exc):
        return gettext("The phone system core is not running: the box cannot place calls now.")
    return translate(str(exc))


def error_status(exc: ControlError) -> int:
    if unknown_job(exc):
        return 404
    return 503 if unreachable(exc) else 409


# -- the commands ---------------------------------------------------------------------------------
def record_prompt(box, extension: str, name: str, language: str) -> dict:
    """Ring ``extension`` and record the custom prompt ``name`` in ``language``."""
    if not PROMPT_NAME.fullmatch(name or ""):
        raise ConfigError("name", N_("must be letters, digits, '-' or '_'"))
    if language not in VOICES:
        raise ConfigError("language", N_("must be one of en, zh_CN"))
    if extension not in {e["number"] for e in box.store.extensions()}:
        raise ConfigError("extension", N_("no such extension"))
    return public(box.core("record-prompt", extension=extension, name=name, language=language))


def clean_number(number: str) -> str:
    number = (number or "").strip().replace(" ", "").replace("-", "")
    if not number.lstrip("+").isdigit() or "+" in number[1:] or len(number) > 32:
        raise ConfigError("number", N_("must be a phone number (digits, + in front)"))
    return number


def test_call(box, line_id: str, number: str) -> dict:
    """Call ``number`` through the line ``line_id`` and play the test message."""
    number = clean_number(number)
    if line_id not in line_ids(box):
        raise ConfigError("line", N_("no such line"))
    return public(box.core("test-call", line=line_id, number=number))


def status(box, job_id: str) -> dict:
    return public(box.core("service-call", id=job_id))


def line_ids(box) -> list[str]:
    return [line["id"] for line in box.store.callcenter_tables()["lines"]]


# -- the pages: a job kept in the session ---------------------------------------------------------
def session_job(box, key: str) -> tuple[dict | None, bool]:
    """The job this session started last under ``key``, and whether the core is reachable.

    With no job it asks the core for job ``-`` (refused: the core is up).
    A job the core no longer knows (it restarted) is forgotten.
    """
    job_id = session.get(key)
    try:
        if job_id:
            return status(box, job_id), True
        box.core("service-call", id="-")
    except ControlError as exc:
        if unreachable(exc):
            return None, False
        session.pop(key, None)
        return None, True
    return None, True


def wants_json() -> bool:
    """The page's script asks for JSON; a plain form post (any other Accept) is sent back to the page."""
    accept = request.accept_mimetypes
    return bool(accept) and accept.best_match(["text/html", "application/json"]) == "application/json"


def start(key: str, begin, back: str):
    """Run ``begin()`` (a command above); remember its job under ``key``; answer JSON or go ``back``."""
    try:
        job = begin()
    except ConfigError as exc:
        return _refused(translate_error(exc.message), exc.field, 400, back)
    except ControlError as exc:
        return _refused(core_error(exc), "", error_status(exc), back)
    session[key] = job["id"]
    if wants_json():
        return jsonify(job), 202
    return redirect(back)


def _refused(message: str, field: str, status_code: int, back: str):
    if wants_json():
        body = {"error": message}
        if field:
            body["field"] = field
        return jsonify(body), status_code
    flash(message, "error")
    return redirect(back)
