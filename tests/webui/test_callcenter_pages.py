"""The call center pages after the wizard: IVR menus (with their tree),
queues, business hours and holidays with day/night, inbound routes, and
their API. Every change goes through the config store's validation: a
refusal is shown next to its field and config.json keeps every byte."""
from __future__ import annotations

import html as htmllib
import re

import pytest

from firmware.config import callcenter
from firmware.config.store import ConfigStore
from firmware.errors import ConfigError
from web import create_app
from webtools import field_errors, login, post, run_wizard, token

KEYS = {"key_" + {"*": "star", "#": "hash"}.get(k, k): "" for k in "1234567890*#"}


def menu_form(**changes) -> dict:
    form = {"prompt": "welcome", "operator": "queue:main", "failover": "", "direct_dial": "y", "timeout_s": "5",
            "inter_digit_s": "2", "max_attempts": "3", "invalid_prompt": "invalid-entry",
            "timeout_prompt": "no-entry", **KEYS}
    form.update(changes)
    return form


def queue_form(**changes) -> dict:
    form = {"name": "Sales", "members": ["201", "202"], "strategy": "rrmemory", "ring_timeout_s": "15",
            "retry_s": "5", "wrapup_s": "10", "autopause_after": "3", "max_wait_s": "300", "max_callers": "10",
            "failover": "hangup", "leave_when_empty": "y", "announce_every_s": "30", "exit_key": "",
            "exit_target": "", "sticky_days": "0", "sl_threshold_s": "15", "recording": "never"}
    form.update(changes)
    return form


def tc_form(**changes) -> dict:
    form = {"mon": "09:00-18:00", "tue": "09:00-18:00", "wed": "09:00-18:00", "thu": "09:00-18:00",
            "fri": "09:00-18:00", "sat": "", "sun": "", "holidays": "", "extra_workdays": "", "makeup_weekday": "0",
            "timezone": "Asia/Shanghai", "open": "menu:main", "closed": "announcement:closed"}
    form.update(changes)
    return form


def tables(data_dir) -> dict:
    return ConfigStore(data_dir).callcenter_tables()


def menus(data_dir) -> dict:
    return {m["id"]: m for m in tables(data_dir)["menus"]}


def errors(response) -> dict[str, list[str]]:
    """The messages next to the fields, as the owner reads them."""
    return {k: [htmllib.unescape(m) for m in v] for k, v in field_errors(response.get_data(as_text=True)).items()}


def config_bytes(data_dir) -> bytes:
    return (data_dir / "config.json").read_bytes()


def build_two_levels(client):
    """main: 1 -> menu:sales_menu; sales_menu: 1 -> queue:main, 2 -> extension:202."""
    r = post(client, "/callcenter/menus/", {"menu_id": "sales_menu", "prompt": "welcome", "operator": "queue:main"})
    assert r.status_code == 302 and r.headers["Location"] == "/callcenter/menus/sales_menu", \
        field_errors(r.get_data(as_text=True))
    r = post(client, "/callcenter/menus/sales_menu",
             menu_form(key_1="queue:main", key_2="extension:202", timeout_s="7", max_attempts="2"))
    assert r.status_code == 302, field_errors(r.get_data(as_text=True))
    r = post(client, "/callcenter/menus/main", menu_form(key_1="menu:sales_menu"))
    assert r.status_code == 302, field_errors(r.get_data(as_text=True))


@pytest.fixture(scope="module")
def set_up_box(tmp_path_factory):
    """One box after the wizard, for tests that change nothing (refusals)."""
    data = tmp_path_factory.mktemp("callcenter") / "data"
    client = create_app(data, testing=True, control_socket=data.parent / "no.sock").test_client()
    run_wizard(client)
    client.get("/lang/en")
    return client, data


@pytest.fixture
def owner(client):
    run_wizard(client)
    client.get("/lang/en")          # the wizard chose the box's language (Chinese) for the pages too
    return client


def test_a_two_level_menu_built_through_the_forms(owner, data_dir):
    build_two_levels(owner)
    stored = menus(data_dir)
    assert stored["main"]["choices"] == {"1": "menu:sales_menu"}
    assert stored["sales_menu"]["choices"] == {"1": "queue:main", "2": "extension:202"}
    assert stored["sales_menu"]["timeout_s"] == 7 and stored["sales_menu"]["max_attempts"] == 2
    assert stored["sales_menu"]["operator"] == "queue:main" and "failover" not in stored["sales_menu"]
    built = callcenter.build(ConfigStore(data_dir).read_document())
    assert str(built.menus["main"].choices["1"]) == "menu:sales_menu"
    assert str(built.menus["sales_menu"].choices["1"]) == "queue:main"

    # The editor of main draws the tree: sales_menu's keys nested under main's key 1.
    html = owner.get("/callcenter/menus/main").get_data(as_text=True)
    tree = html[html.index('id="menu-tree"'):html.index('id="menu-used"')]
    assert tree.index('data-menu="main"') < tree.index('data-key="1"') < tree.index('data-menu="sales_menu"')
    nested = tree[tree.index('data-menu="sales_menu"'):]
    assert 'href="/callcenter/queues/main"' in nested and "Extension 202 · Bo" in nested
    # The form shows what is stored.
    assert re.search(r'<option value="menu:sales_menu" selected>Menu sales_menu</option>', html)
    # The list names where each menu is reached from.
    listing = owner.get("/callcenter/menus/").get_data(as_text=True)
    row = re.search(r'<tr id="menu-sales_menu">.*?</tr>', listing, re.S).group(0)
    assert 'data-field="menus.main.choices.1"' in row and "menu main, key 1" in row


def test_a_loop_is_drawn_as_a_reference(owner, data_dir):
    build_two_levels(owner)
    r = post(owner, "/callcenter/menus/sales_menu", menu_form(key_1="queue:main", key_9="menu:main"))
    assert r.status_code == 302, field_errors(r.get_data(as_text=True))
    html = owner.get("/callcenter/menus/main").get_data(as_text=True)
    tree = html[html.index('id="menu-tree"'):html.index('id="menu-used"')]
    assert tree.count('data-menu="main"') == 1 and tree.count('data-menu="sales_menu"') == 1
    assert tree.count("ref-loop") == 1
    api = owner.get("/api/callcenter/menus/main/tree").json
    sales = api["entries"][0]["child"]
    assert api["entries"][0]["key"] == "1" and sales["id"] == "sales_menu"
    assert [(e["key"], e["ref"]) for e in sales["entries"] if e["kind"] == "choice"] == [("1", None), ("9", "loop")]


@pytest.mark.parametrize("url,form,expected", [
    ("/callcenter/menus/main", menu_form(key_1="menu:nowhere"),
     {"key_1": ["points to menu:nowhere, which does not exist"]}),
    ("/callcenter/menus/main", menu_form(key_hash="queue:ghost"),
     {"key_hash": ["points to queue:ghost, which does not exist"]}),
    ("/callcenter/menus/main", menu_form(timeout_s="99"), {"timeout_s": ["must be from 1 to 60"]}),
    ("/callcenter/menus/main", menu_form(timeout_s="soon"), {"timeout_s": ["must be a number"]}),
    ("/callcenter/menus/main", menu_form(operator="extension:999"),
     {"operator": ["points to extension:999, which does not exist"]}),
    ("/callcenter/menus/main", menu_form(prompt="no such prompt!"),
     {"prompt": ["must be a prompt name (letters, digits, '-' or '_')"]}),
    ("/callcenter/menus/", {"menu_id": "Sales Menu", "prompt": "welcome", "operator": "hangup"},
     {"menu_id": ["must be 1-32 lowercase letters, digits, '-' or '_'"]}),
    ("/callcenter/menus/", {"menu_id": "main", "prompt": "welcome", "operator": "hangup"},
     {"menu_id": ["exists already"]}),
    ("/callcenter/queues/main", queue_form(members=["201", "299"]), {"members": ["extension 299 does not exist"]}),
    ("/callcenter/queues/main", queue_form(ring_timeout_s="1"), {"ring_timeout_s": ["must be from 3 to 120"]}),
    ("/callcenter/queues/main", queue_form(exit_key="5", exit_target=""),
     {"exit_target": ["must be a destination like 'queue:sales' or 'hangup'"]}),
    ("/callcenter/time-conditions/hours", tc_form(mon="09:00-13:00, 12:00-18:00"),
     {"mon": ["09:00-13:00 and 12:00-18:00 overlap"]}),
    ("/callcenter/time-conditions/hours", tc_form(holidays="2026-02-30"),
     {"holidays": ["2026-02-30 is not a real date"]}),
    ("/callcenter/time-conditions/hours", tc_form(holidays="2026-10-01", extra_workdays="2026-10-01"),
     {"extra_workdays": ["2026-10-01 is a closed day too; a day is either closed or worked"]}),
    ("/callcenter/time-conditions/hours", tc_form(open="time_condition:hours"),
     {"open": ["points at this time condition itself"]}),
    ("/callcenter/routes/", {"number": "600", "name": "Again", "target": "hangup"}, {"number": ["exists already"]}),
    ("/callcenter/routes/", {"number": "201", "name": "", "target": "hangup"},
     {"number": ["is already used by a route or an extension"]}),
    ("/callcenter/routes/600", {"number": "6x", "name": "", "target": "menu:main"},
     {"number": ["must be 2-20 digits"]}),
])
def test_a_refusal_is_shown_next_to_its_field_and_nothing_is_saved(set_up_box, url, form, expected):
    owner, data_dir = set_up_box
    before = config_bytes(data_dir)
    r = post(owner, url, form)
    assert r.status_code == 400
    assert errors(r) == expected
    assert config_bytes(data_dir) == before


def test_deleting_a_menu_still_used_is_refused_and_changes_nothing(owner, data_dir):
    build_two_levels(owner)
    before = config_bytes(data_dir)
    r = post(owner, "/callcenter/menus/sales_menu/delete", {}, page="/callcenter/menus/sales_menu")
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    refusal = html[html.index('id="delete-error"'):]
    assert "Menu sales_menu was not deleted: it is still used by" in refusal
    assert '<li data-field="menus.main.choices.1"><a href="/callcenter/menus/main">menu main, key 1</a>' in refusal
    assert config_bytes(data_dir) == before
    # The API says the same; and the store refuses it on its own too.
    r = owner.delete("/api/callcenter/menus/sales_menu", headers={"X-CSRFToken": token(owner, "/")})
    assert r.status_code == 400 and r.json["used_by"] == ["menus.main.choices.1"]
    assert r.json["field"] == "menus.sales_menu"
    store = ConfigStore(data_dir)
    current = store.callcenter_tables()
    current["menus"] = [m for m in current["menus"] if m["id"] != "sales_menu"]
    with pytest.raises(ConfigError) as refused:
        store.replace_callcenter({k: current[k] for k in ConfigStore.CALLCENTER_TABLES})
    assert refused.value.field == "menus.main.choices.1"
    assert config_bytes(data_dir) == before
    # Once nothing points to it, it goes.
    assert post(owner, "/callcenter/menus/main", menu_form(key_1="queue:main")).status_code == 302
    r = post(owner, "/callcenter/menus/sales_menu/delete", {}, page="/callcenter/menus/sales_menu")
    assert r.status_code == 302 and r.headers["Location"] == "/callcenter/menus/"
    assert set(menus(data_dir)) == {"main"}
    assert owner.get("/callcenter/menus/sales_menu").status_code == 404


def test_a_menu_that_leads_to_itself_can_be_deleted(owner, data_dir):
    post(owner, "/callcenter/menus/", {"menu_id": "loop", "prompt": "welcome", "operator": "hangup"})
    assert post(owner, "/callcenter/menus/loop", menu_form(key_1="menu:loop", operator="hangup")).status_code == 302
    r = post(owner, "/callcenter/menus/loop/delete", {}, page="/callcenter/menus/loop")
    assert r.status_code == 302 and set(menus(data_dir)) == {"main"}


def test_queue_members_strategy_and_failover(owner, data_dir):
    r = post(owner, "/callcenter/queues/", {"queue_id": "support", "name": "Support"})
    assert r.status_code == 302 and r.headers["Location"] == "/callcenter/queues/support"
    page = owner.get("/callcenter/queues/support").get_data(as_text=True)
    assert 'name="members" type="checkbox" value="201"' in page and "201 Ann" in page
    r = post(owner, "/callcenter/queues/support", queue_form(
        name="Support", members=["202"], strategy="ringall", ring_timeout_s="25", wrapup_s="2.5",
        failover="voicemail:202", exit_key="#", exit_target="menu:main", join_empty="y", leave_when_empty=""))
    assert r.status_code == 302, field_errors(r.get_data(as_text=True))
    q = {q["id"]: q for q in tables(data_dir)["queues"]}["support"]
    assert q["members"] == ["202"] and q["strategy"] == "ringall" and q["ring_timeout_s"] == 25
    assert q["wrapup_s"] == 2.5 and q["failover"] == "voicemail:202"
    assert (q["exit_key"], q["exit_target"], q["join_empty"], q["leave_when_empty"]) == ("#", "menu:main", True, False)
    built = callcenter.build(ConfigStore(data_dir).read_document())
    assert built.queues["support"].strategy.value == "ringall"
    listing = owner.get("/callcenter/queues/").get_data(as_text=True)
    row = re.search(r'<tr id="queue-support">.*?</tr>', listing, re.S).group(0)
    assert "Ring everyone at once" in row and '<td class="members">202</td>' in row
    # A queue something points to stays.
    before = config_bytes(data_dir)
    r = post(owner, "/callcenter/queues/main/delete", {}, page="/callcenter/queues/main")
    assert r.status_code == 400 and 'data-field="menus.main.choices.1"' in r.get_data(as_text=True)
    assert config_bytes(data_dir) == before
    assert post(owner, "/callcenter/queues/support/delete", {}, page="/callcenter/queues/support").status_code == 302
    assert [q["id"] for q in tables(data_dir)["queues"]] == ["main"]


def test_hours_holidays_make_up_days_and_day_night(owner, data_dir, fake_core):
    r = post(owner, "/callcenter/time-conditions/hours", tc_form(
        mon="09:00-12:00，13:00-18:00", sat="10:00-16:00", holidays="2026-10-01\n2026-10-02",
        extra_workdays="2026-09-27", makeup_weekday="4", closed="voicemail:201"))
    assert r.status_code == 302, field_errors(r.get_data(as_text=True))
    tc = tables(data_dir)["time_conditions"][0]
    assert tc["hours"]["mon"] == ["09:00-12:00", "13:00-18:00"] and tc["hours"]["sat"] == ["10:00-16:00"]
    assert "sun" not in tc["hours"]
    assert (tc["holidays"], tc["extra_workdays"], tc["makeup_weekday"]) == (["2026-10-01", "2026-10-02"],
                                                                            ["2026-09-27"], 4)
    assert tc["closed"] == "voicemail:201"
    # Day/night with the core running: the core is asked (it stores and applies it).
    r = post(owner, "/callcenter/time-conditions/hours/override", {"mode": "closed"},
             page="/callcenter/time-conditions/hours")
    assert r.status_code == 302
    assert ("override", {"id": "hours", "mode": "closed"}) in fake_core.requests


def test_day_night_is_stored_when_the_core_is_down_and_kept_by_an_edit(owner, data_dir):
    r = post(owner, "/callcenter/time-conditions/hours/override", {"mode": "open"},
             page="/callcenter/time-conditions/hours")
    assert r.status_code == 302
    assert tables(data_dir)["time_conditions"][0]["override"] == "open"
    page = owner.get("/callcenter/time-conditions/hours").get_data(as_text=True)
    assert re.findall(r'<input checked id="mode-\d" name="mode" type="radio" value="(\w+)">', page) == ["open"]
    assert post(owner, "/callcenter/time-conditions/hours", tc_form(sat="10:00-14:00")).status_code == 302
    assert tables(data_dir)["time_conditions"][0]["override"] == "open"
    assert post(owner, "/callcenter/time-conditions/hours/override", {"mode": "auto"},
                page="/callcenter/time-conditions/hours").status_code == 302
    assert tables(data_dir)["time_conditions"][0]["override"] is None
    assert owner.get("/callcenter/time-conditions/nope").status_code == 404


def test_inbound_routes_and_the_lines_on_them(owner, data_dir):
    store = ConfigStore(data_dir)
    current = store.callcenter_tables()
    current["lines"] = [{"id": "gsm1", "kind": "gsm", "device": "sim", "route": "600", "pin": "1234",
                         "name": "Shop mobile"}]
    store.replace_callcenter(current)
    r = post(owner, "/callcenter/routes/", {"number": "601", "name": "After sales", "target": "queue:main"})
    assert r.status_code == 302, field_errors(r.get_data(as_text=True))
    listing = owner.get("/callcenter/routes/").get_data(as_text=True)
    row = re.search(r'<tr id="route-600">.*?</tr>', listing, re.S).group(0)
    assert "Shop mobile" in row and "Business hours hours" in row
    # A route a line arrives at is not deleted; a new number takes the line along.
    before = config_bytes(data_dir)
    r = post(owner, "/callcenter/routes/600/delete", {}, page="/callcenter/routes/600")
    assert r.status_code == 400 and 'data-field="lines.gsm1.route"' in r.get_data(as_text=True)
    assert config_bytes(data_dir) == before
    r = post(owner, "/callcenter/routes/600", {"number": "610", "name": "Shop", "target": "time_condition:hours"})
    assert r.status_code == 302 and r.headers["Location"] == "/callcenter/routes/610"
    after = store.callcenter_tables()
    assert sorted(r["number"] for r in after["routes"]) == ["601", "610"]
    assert after["lines"][0]["route"] == "610" and after["lines"][0]["pin"] == "1234"
    assert post(owner, "/callcenter/routes/601/delete", {}, page="/callcenter/routes/601").status_code == 302
    assert [r["number"] for r in store.callcenter_tables()["routes"]] == ["610"]


def test_the_api_reads_and_changes_the_call_center(owner, data_dir):
    csrf = {"X-CSRFToken": token(owner, "/")}
    store = ConfigStore(data_dir)
    store.set_mailbox_pin("201", "pbkdf2$1$salt$hash")
    got = owner.get("/api/callcenter").json
    assert [m["id"] for m in got["menus"]] == ["main"] and got["routes"][0]["number"] == "600"
    assert all("pin" not in v for v in got["voicemail"]) and got["voicemail"][0]["has_pin"] is True

    menu = {"prompt": "welcome", "operator": "queue:main", "choices": {"1": "queue:main"}, "timeout_s": 4}
    r = owner.put("/api/callcenter/menus/sales_menu", json=menu, headers=csrf)
    assert r.status_code == 201 and r.json["record"]["id"] == "sales_menu" and r.json["created"] is True
    r = owner.put("/api/callcenter/menus/main", headers=csrf, json={
        "prompt": "welcome", "operator": "queue:main", "choices": {"1": "menu:sales_menu"}})
    assert r.status_code == 200 and r.json["created"] is False
    assert menus(data_dir)["main"]["choices"] == {"1": "menu:sales_menu"}
    callcenter.build(store.read_document())

    before = config_bytes(data_dir)
    for path, body, field in [
        ("/api/callcenter/menus/main", {**menu, "choices": {"1": "menu:nowhere"}}, "menus.main.choices.1"),
        ("/api/callcenter/menus/main", {**menu, "choices": {"x": "hangup"}}, "menus.main.choices.x"),
        ("/api/callcenter/menus/main", {**menu, "direct_dial": "yes"}, "menus.main.direct_dial"),
        ("/api/callcenter/menus/main", {**menu, "id": "other"}, "menus.main.id"),
        ("/api/callcenter/menus/main", {**menu, "colour": "red"}, "menus.main.colour"),
        ("/api/callcenter/menus/main", ["not", "an", "object"], "(body)"),
        ("/api/callcenter/queues/main", {"members": ["299"]}, "queues.main.members"),
        ("/api/callcenter/queues/main", {"members": [], "name": 'say "hi"'}, "queues.main.name"),
        ("/api/callcenter/time-conditions/hours", {"open": "menu:main", "closed": "hangup",
                                                   "hours": {"mon": ["9-18"]}}, "time_conditions.hours.hours.mon"),
        ("/api/callcenter/routes/600", {"target": "menu:gone"}, "routes.600.target"),
        ("/api/callcenter/routes/700", {"number": "701", "target": "hangup"}, "routes.700.number"),
    ]:
        r = owner.put(path, json=body, headers=csrf)
        assert r.status_code == 400, (path, body, r.status_code, r.json)
        assert r.json["field"] == field and r.json["error"], (path, r.json)
    r = owner.delete("/api/callcenter/queues/nope", headers=csrf)
    assert r.status_code == 404 and r.json["field"] == "queues.nope"
    assert owner.put("/api/callcenter/menus/main", json=menu).status_code == 400          # no CSRF token
    assert config_bytes(data_dir) == before

    store.set_override("hours", "closed")
    r = owner.put("/api/callcenter/time-conditions/hours", headers=csrf, json={
        "open": "menu:main", "closed": "announcement:closed", "hours": {"sat": ["10:00-12:00"]}})
    assert r.status_code == 200 and r.json["record"]["override"] == "closed"
    assert r.json["record"]["timezone"] == "Asia/Shanghai"
    r = owner.put("/api/callcenter/routes/600", headers=csrf, json={"number": "606", "target": "menu:main"})
    assert r.status_code == 200 and [x["number"] for x in store.callcenter_tables()["routes"]] == ["606"]
    r = owner.delete("/api/callcenter/menus/sales_menu", headers=csrf)
    assert r.status_code == 400 and r.json["used_by"] == ["menus.main.choices.1"]


def test_changing_routes_need_the_csrf_token_and_are_walked_by_the_security_test(app, owner, data_dir):
    from test_security import ARGS
    args = {"tc_id": "main", "number": "600"}
    mine = [(m, rule) for rule in app.url_map.iter_rules()
            if rule.rule.startswith(("/callcenter/", "/api/callcenter"))
            for m in sorted(rule.methods & {"POST", "PUT", "DELETE"})]
    assert len(mine) >= 14
    before = config_bytes(data_dir)
    for method, rule in mine:
        assert set(rule.arguments) <= set(ARGS), rule.rule      # else test_security cannot build it
        url = rule.build(args, append_unknown=False)[1]
        for headers in ({}, {"X-CSRFToken": "forged"}):
            r = owner.open(url, method=method, headers=headers, data={"menu_id": "x", "operator": "hangup"})
            assert r.status_code == 400, (method, url, r.status_code)
    assert config_bytes(data_dir) == before


def test_agents_may_not_open_the_call_center(app, owner):
    agent = app.test_client()
    web_password = _agent_password(owner)
    assert login(agent, "201", web_password).status_code == 302
    for url in ("/callcenter/", "/callcenter/menus/", "/callcenter/menus/main", "/callcenter/queues/main",
                "/callcenter/time-conditions/hours", "/callcenter/routes/600"):
        assert agent.get(url).status_code == 403, url
    assert agent.get("/api/callcenter").status_code == 403
    r = agent.put("/api/callcenter/menus/main", json={"operator": "hangup"}, headers={"X-CSRFToken": token(agent, "/")})
    assert r.status_code == 403
    assert "/callcenter/" not in agent.get("/").get_data(as_text=True)


def _agent_password(owner) -> str:
    r = post(owner, "/extensions/201/web-login", {}, page="/extensions/")
    return re.search(r'class="web-password">([^<]+)<', r.get_data(as_text=True)).group(1)


def test_the_pages_speak_chinese(owner):
    build_two_levels(owner)
    owner.get("/lang/zh")
    page = owner.get("/callcenter/menus/main").get_data(as_text=True)
    assert "呼叫中心" in page and "语音菜单" in page and "每个按键的作用" in page
    assert "菜单 sales_menu" in page
    assert "Keys and greeting" not in page
    page = owner.get("/callcenter/queues/main").get_data(as_text=True)
    assert "本队列的坐席" in page and "无人接听、等待太久或队列已满时，来电去向" in page
    page = owner.get("/callcenter/time-conditions/hours").get_data(as_text=True)
    assert "调休上班日" in page and "日间 / 夜间" in page
    page = owner.get("/callcenter/routes/").get_data(as_text=True)
    assert "呼入路由" in page
    r = post(owner, "/callcenter/menus/main", menu_form(key_1="menu:nowhere"))
    assert errors(r) == {"key_1": ["指向不存在的 menu:nowhere"]}
    r = post(owner, "/callcenter/menus/sales_menu/delete", {}, page="/callcenter/menus/sales_menu")
    assert "菜单 sales_menu 未删除" in r.get_data(as_text=True)
