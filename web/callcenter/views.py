"""The call center pages (admin only): IVR menus, queues, business hours and
holidays with the day/night switch, inbound routes (the numbers lines lead to).

Every save goes through :mod:`web.callcenter.service` (one locked
read-modify-write, validated whole by the config store); a refusal is
shown next to its field with status 400 and nothing is saved. After a
save the core is asked to reload.
"""
from __future__ import annotations

from zoneinfo import available_timezones

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from firmware.errors import ConfigError, ControlError
from web.box import get_box
from web.callcenter import forms as f
from web.callcenter import messages
from web.callcenter import service
from web.callcenter.targets import Names, key_sort, prompts
from web.forms import attach_error, choices
from web.security import admin_required
from web.wizard import plan

bp = Blueprint("callcenter", __name__, url_prefix="/callcenter")
# The id in a path is named ``tc_id`` for menus and queues too: the name the
# CSRF route walker of tests/webui/test_security.py knows.


class Page:
    """What every call center page draws from: the tables, names, pickers."""

    def __init__(self):
        self.box = get_box()
        self.tables = service.tables(self.box)
        self.extensions = self.box.store.extensions()
        self.names = Names(self.tables, self.extensions)
        self.prompts = prompts(self.box.paths.prompts)

    def targets(self, *current) -> list:
        return self.names.groups([name for name, _label in self.prompts], current)

    def prompt_groups(self, *current) -> list:
        known = [name for name, _label in self.prompts]
        extra = [(v, v) for v in dict.fromkeys(current) if v and v not in known]
        return [(gettext("Prompts"), self.prompts + extra)]

    def render(self, template: str, status: int = 200, **ctx):
        return render_template(f"callcenter/{template}", tables=self.tables, names=self.names, **ctx), status

    def users(self, fields: list[str]) -> list[dict]:
        return [{"field": x, "text": self.names.field(x), "url": self.names.field_url(x)} for x in fields]


def _saved(result: dict, message: str) -> None:
    flash(message, "success")
    if not result["applied"]:
        flash(gettext("The phone system core is not running; the change takes effect when it starts."), "warning")


def _refused(form, exc: ConfigError, aliases: dict) -> None:
    if isinstance(exc, service.NotFound):
        abort(404)
    attach_error(form, messages.localized(exc), aliases)


def _status() -> int:
    return 400 if request.method == "POST" else 200


@bp.route("/")
@admin_required
def index():
    return redirect(url_for("callcenter.menus"))


# -- IVR menus -----------------------------------------------------------------

@bp.route("/menus/", methods=["GET", "POST"])
@admin_required
def menus():
    page = Page()
    form = f.NewMenuForm()
    if request.method == "GET":
        queues = page.tables["queues"]
        form.operator.data = f"queue:{queues[0]['id']}" if queues else "hangup"
    elif form.validate_on_submit():
        new_id = (form.menu_id.data or "").strip()
        record = f.drop_empty({"id": new_id, "prompt": (form.prompt.data or "").strip(),
                               "operator": (form.operator.data or "").strip(), "choices": {}})
        try:
            result = service.save(page.box, "menus", record)
        except ConfigError as exc:
            attach_error(form, messages.localized(exc), f.MENU_ALIASES)
        else:
            _saved(result, gettext("Menu %(id)s added. Now choose what its keys do.", id=new_id))
            return redirect(url_for("callcenter.menu", tc_id=new_id))
    rows = [{"menu": m, "keys": sorted((m.get("choices") or {}).items(), key=lambda kv: key_sort(kv[0])),
             "used_by": page.users(service.references(page.tables, f"menu:{m['id']}", skip=("menus", m["id"])))}
            for m in page.tables["menus"]]
    return page.render("menus.html", _status(), form=form, rows=rows,
                       targets=page.targets(form.operator.data), prompt_groups=page.prompt_groups(form.prompt.data))


def _menu_page(page: Page, tc_id: str, form, status: int = 200, delete_error=None):
    record = service.find(page.tables["menus"], "menus", tc_id)
    if record is None:
        abort(404)
    keys = [form[name].data for name in f.KEY_FIELDS.values()]
    return page.render(
        "menu.html", status, form=form, menu=record, menu_tree=service.menu_tree(page.tables, tc_id),
        targets=page.targets(form.operator.data, form.failover.data, *keys),
        prompt_groups=page.prompt_groups(form.prompt.data, form.invalid_prompt.data, form.timeout_prompt.data),
        used_by_fields=page.users(service.references(page.tables, f"menu:{tc_id}", skip=("menus", tc_id))),
        delete_error=delete_error)


def _edit(table: str, tc_id: str, form, to_form, from_form, aliases: dict, saved: str, endpoint: str, render):
    """One record's edit page: GET fills the form, a valid POST saves (refusals
    land next to their fields) and comes back to the page."""
    page = Page()
    record = service.find(page.tables[table], table, tc_id)
    if record is None:
        abort(404)
    form = form(page)
    if request.method == "GET":
        to_form(form, record)
    elif form.validate_on_submit():
        try:
            result = service.save(page.box, table, from_form(form, tc_id), old_key=tc_id)
        except ConfigError as exc:
            _refused(form, exc, aliases)
        else:
            _saved(result, saved)
            return redirect(url_for(endpoint, tc_id=tc_id))
    return render(page, tc_id, form, _status())


@bp.route("/menus/<tc_id>", methods=["GET", "POST"])
@admin_required
def menu(tc_id: str):
    return _edit("menus", tc_id, lambda page: f.MenuForm(), f.menu_to_form, f.menu_from_form, f.MENU_ALIASES,
                 gettext("Menu %(id)s saved.", id=tc_id), "callcenter.menu", _menu_page)


def _delete(table: str, key: str, done_endpoint: str, message: str, again):
    """Delete, or show the page of the record again with why not (400)."""
    page = Page()
    try:
        result = service.delete(page.box, table, key)
    except service.NotFound:
        abort(404)
    except service.StillUsed as exc:
        return again(page, {"field": exc.field, "users": page.users(exc.users)})
    except ConfigError as exc:           # refused by the store itself
        return again(page, {"field": exc.field, "users": [], "message": f"{page.names.field(exc.field)}: "
                                                                          f"{messages.translate(exc.message)}"})
    _saved(result, message)
    return redirect(url_for(done_endpoint))


@bp.route("/menus/<tc_id>/delete", methods=["POST"])
@admin_required
def delete_menu(tc_id: str):
    def again(page, error):
        form = f.MenuForm(formdata=None)
        f.menu_to_form(form, service.find(page.tables["menus"], "menus", tc_id) or {})
        return _menu_page(page, tc_id, form, 400, delete_error=error)
    return _delete("menus", tc_id, "callcenter.menus", gettext("Menu %(id)s deleted.", id=tc_id), again)


# -- queues ----------------------------------------------------------------------

@bp.route("/queues/", methods=["GET", "POST"])
@admin_required
def queues():
    page = Page()
    form = f.NewQueueForm()
    if form.validate_on_submit():
        new_id = (form.queue_id.data or "").strip()
        record = {"id": new_id, "name": (form.name.data or "").strip(), "members": [],
                  "strategy": "rrmemory", "failover": "hangup"}
        try:
            result = service.save(page.box, "queues", record)
        except ConfigError as exc:
            attach_error(form, messages.localized(exc), f.QUEUE_ALIASES)
        else:
            _saved(result, gettext("Queue %(id)s added. Now choose its agents.", id=new_id))
            return redirect(url_for("callcenter.queue", tc_id=new_id))
    strategies = {k: v for k, v in f.STRATEGIES}
    rows = [{"queue": q, "strategy": strategies.get(q.get("strategy", "rrmemory"), q.get("strategy")),
             "used_by": page.users(service.references(page.tables, f"queue:{q['id']}", skip=("queues", q["id"])))}
            for q in page.tables["queues"]]
    return page.render("queues.html", _status(), form=form, rows=rows)


def _queue_form(page: Page, formdata=True):
    form = f.QueueForm() if formdata else f.QueueForm(formdata=None)
    form.members.choices = choices((e["number"], f"{e['number']} {e.get('name', '')}".strip())
                                   for e in page.extensions)
    return form


def _queue_page(page: Page, tc_id: str, form, status: int = 200, delete_error=None):
    record = service.find(page.tables["queues"], "queues", tc_id)
    if record is None:
        abort(404)
    return page.render(
        "queue.html", status, form=form, queue=record,
        targets=page.targets(form.failover.data, form.exit_target.data),
        used_by_fields=page.users(service.references(page.tables, f"queue:{tc_id}", skip=("queues", tc_id))),
        delete_error=delete_error)


@bp.route("/queues/<tc_id>", methods=["GET", "POST"])
@admin_required
def queue(tc_id: str):
    return _edit("queues", tc_id, _queue_form, f.queue_to_form, f.queue_from_form, f.QUEUE_ALIASES,
                 gettext("Queue %(id)s saved.", id=tc_id), "callcenter.queue", _queue_page)


@bp.route("/queues/<tc_id>/delete", methods=["POST"])
@admin_required
def delete_queue(tc_id: str):
    def again(page, error):
        form = _queue_form(page, formdata=False)
        f.queue_to_form(form, service.find(page.tables["queues"], "queues", tc_id) or {})
        return _queue_page(page, tc_id, form, 400, delete_error=error)
    return _delete("queues", tc_id, "callcenter.queues", gettext("Queue %(id)s deleted.", id=tc_id), again)


# -- business hours, holidays, day/night -------------------------------------------

@bp.route("/time-conditions/", methods=["GET", "POST"])
@admin_required
def time_conditions():
    page = Page()
    form = f.NewTimeConditionForm()
    if request.method == "GET":
        menus_ = page.tables["menus"]
        form.open.data = f"menu:{menus_[0]['id']}" if menus_ else "hangup"
        form.closed.data = "announcement:closed"
    elif form.validate_on_submit():
        new_id = (form.tc_id.data or "").strip()
        record = {"id": new_id, "timezone": page.box.state.timezone_name(), "hours": dict(plan.DEFAULT_HOURS),
                  "holidays": [], "extra_workdays": [], "open": (form.open.data or "").strip(),
                  "closed": (form.closed.data or "").strip(), "override": None}
        record = f.drop_empty(record)
        try:
            result = service.save(page.box, "time_conditions", record)
        except ConfigError as exc:
            attach_error(form, messages.localized(exc), f.TC_ALIASES)
        else:
            _saved(result, gettext("Business hours %(id)s added. Now set the opening times.", id=new_id))
            return redirect(url_for("callcenter.time_condition", tc_id=new_id))
    rows = [{"tc": c, "used_by": page.users(service.references(page.tables, f"time_condition:{c['id']}",
                                                               skip=("time_conditions", c["id"])))}
            for c in page.tables["time_conditions"]]
    return page.render("time_conditions.html", _status(), form=form, rows=rows,
                       targets=page.targets(form.open.data, form.closed.data))


def _tc_form(formdata=True):
    form = f.TimeConditionForm() if formdata else f.TimeConditionForm(formdata=None)
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    form.timezone.choices = choices((z, z.replace("_", " ")) for z in zones)
    return form


def _tc_page(page: Page, tc_id: str, form, status: int = 200, delete_error=None, override_form=None):
    record = service.find(page.tables["time_conditions"], "time_conditions", tc_id)
    if record is None:
        abort(404)
    if override_form is None:
        override_form = f.OverrideForm(formdata=None)
        override_form.mode.data = record.get("override") or "auto"
    return page.render(
        "time_condition.html", status, form=form, tc=record, override_form=override_form,
        targets=page.targets(form.open.data, form.closed.data),
        used_by_fields=page.users(service.references(page.tables, f"time_condition:{tc_id}",
                                              skip=("time_conditions", tc_id))),
        delete_error=delete_error)


@bp.route("/time-conditions/<tc_id>", methods=["GET", "POST"])
@admin_required
def time_condition(tc_id: str):
    return _edit("time_conditions", tc_id, lambda page: _tc_form(), f.tc_to_form, f.tc_from_form, f.TC_ALIASES,
                 gettext("Business hours %(id)s saved.", id=tc_id), "callcenter.time_condition", _tc_page)


@bp.route("/time-conditions/<tc_id>/override", methods=["POST"])
@admin_required
def override(tc_id: str):
    page = Page()
    form = f.OverrideForm()
    if form.validate_on_submit():
        mode = None if form.mode.data == "auto" else form.mode.data
        try:
            applied = service.set_override(page.box, tc_id, mode)
        except service.NotFound:
            abort(404)
        except (ConfigError, ControlError) as exc:
            form.mode.errors = list(form.mode.errors) + [messages.translate(getattr(exc, "message", str(exc)))]
        else:
            _saved({"applied": applied}, gettext("Day / night of %(id)s set.", id=tc_id))
            return redirect(url_for("callcenter.time_condition", tc_id=tc_id))
    tc_form = _tc_form(formdata=False)
    f.tc_to_form(tc_form, service.find(page.tables["time_conditions"], "time_conditions", tc_id) or {})
    return _tc_page(page, tc_id, tc_form, 400, override_form=form)


@bp.route("/time-conditions/<tc_id>/delete", methods=["POST"])
@admin_required
def delete_time_condition(tc_id: str):
    def again(page, error):
        form = _tc_form(formdata=False)
        f.tc_to_form(form, service.find(page.tables["time_conditions"], "time_conditions", tc_id) or {})
        return _tc_page(page, tc_id, form, 400, delete_error=error)
    return _delete("time_conditions", tc_id, "callcenter.time_conditions",
                   gettext("Business hours %(id)s deleted.", id=tc_id), again)


# -- inbound routes and the lines on them ---------------------------------------------

def _routes_page(page: Page, form, status: int = 200):
    return page.render("routes.html", status, form=form, targets=page.targets(form.target.data))


@bp.route("/routes/", methods=["GET", "POST"])
@admin_required
def routes():
    page = Page()
    form = f.RouteForm()
    if form.validate_on_submit():
        record = f.route_from_form(form)
        try:
            result = service.save(page.box, "routes", record)
        except ConfigError as exc:
            attach_error(form, messages.localized(exc))
        else:
            _saved(result, gettext("Route %(number)s added.", number=record["number"]))
            return redirect(url_for("callcenter.routes"))
    return _routes_page(page, form, _status())


def _route_page(page: Page, number: str, form, status: int = 200, delete_error=None):
    record = service.find(page.tables["routes"], "routes", number)
    if record is None:
        abort(404)
    return page.render("route.html", status, form=form, route=record, targets=page.targets(form.target.data),
                       lines=[line for line in page.tables["lines"] if line.get("route") == number],
                       delete_error=delete_error)


@bp.route("/routes/<number>", methods=["GET", "POST"])
@admin_required
def route(number: str):
    page = Page()
    record = service.find(page.tables["routes"], "routes", number)
    if record is None:
        abort(404)
    form = f.RouteForm()
    if request.method == "GET":
        form.process(data={"number": record.get("number"), "name": record.get("name", ""),
                           "target": record.get("target", "")})
    elif form.validate_on_submit():
        new = f.route_from_form(form)
        try:
            result = service.save(page.box, "routes", new, old_key=number)
        except ConfigError as exc:
            _refused(form, exc, {})
        else:
            _saved(result, gettext("Route %(number)s saved.", number=new["number"]))
            return redirect(url_for("callcenter.route", number=new["number"]))
    return _route_page(page, number, form, _status())


@bp.route("/routes/<number>/delete", methods=["POST"])
@admin_required
def delete_route(number: str):
    def again(page, error):
        form = f.RouteForm(formdata=None)
        rec = service.find(page.tables["routes"], "routes", number) or {}
        form.process(data={"number": rec.get("number"), "name": rec.get("name", ""), "target": rec.get("target")})
        return _route_page(page, number, form, 400, delete_error=error)
    return _delete("routes", number, "callcenter.routes", gettext("Route %(number)s deleted.", number=number), again)
