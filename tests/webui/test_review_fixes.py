"""Regression tests for the review of the web app: open redirects through
``next``, sessions of removed users coming back, login throttling, big
backups, lost updates of the line tables, out-of-range dates and pages,
missing form fields, restore input, extensions made without their web
login, untranslated API errors, DNS rebinding (Host), and the
change-password page."""
from __future__ import annotations

import base64
import io
import json
import os
import re
import socket
import threading
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from firmware.config.store import ConfigStore
from firmware.errors import StoreBusyError
from web import create_app
from web.system import backup as box_backup
from webtools import ADMIN, create_admin, field_errors, login, post, run_wizard, token

GSM = {"kind": "gsm", "id": "gsm1", "name": "Shop mobile", "device": "/dev/ttyUSB2", "vendor": "sim7600",
       "pin": "1234", "pcm_device": "/dev/ttyUSB4", "sound_device": "", "power_pin": "17", "rx_gain_db": "0",
       "tx_gain_db": "0", "route": "600", "enabled": "y"}
OTHER_ROUTE = {"id": "other", "patterns": ["_8X."], "lines": ["gsm1"], "extensions": ["*"], "strip": 0,
               "prepend": ""}


def _box(app):
    return app.extensions["smallpbx"]


def _api_headers(client) -> dict:
    return {"X-CSRFToken": token(client, "/")}


# -- 1. next= -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/\r\nSet-Cookie: x=1",
                                    "/ /evil.example", "/\x7f/evil.example", "http:/evil.example",
                                    "https:evil.example", "//evil.example", "/\\evil.example", "evil.example",
                                    "javascript:alert(1)"])
def test_next_never_leads_off_the_box_nor_fails(client, target):
    response = client.get("/lang/zh", query_string={"next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/", response.headers.get("Location")
    create_admin(client)
    client.post("/logout", data={"csrf_token": token(client, "/setup/region")})
    response = login(client, *ADMIN, query_string={"next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/", response.headers.get("Location")


def test_next_raw_percent_encoded_tab_and_newline(client):
    for raw in ("/lang/en?next=/%09/evil.example", "/lang/en?next=/%0d%0aX-Evil:%201", "/lang/en?next=%2F%2Fevil"):
        response = client.get(raw)
        assert response.status_code == 302 and response.headers["Location"] == "/", raw


def test_next_keeps_a_local_path_with_its_query(client):
    response = client.get("/lang/zh", query_string={"next": "/history/?from=2026-01-01&agent=201"})
    assert response.headers["Location"] == "/history/?from=2026-01-01&agent=201"


# -- 2. a removed user's sessions stay ended ------------------------------------------------------------

def test_old_owner_session_does_not_come_back_after_admin_reset(app, client, data_dir):
    run_wizard(client)
    stolen = client.get_cookie("smallpbx_session").value
    flag = data_dir / "run" / "admin-reset"
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text("")
    owner = app.test_client()
    create_admin(owner)                                # the same name, "owner", made again
    assert owner.get("/api/status").status_code == 200
    thief = app.test_client()
    thief.set_cookie("smallpbx_session", stolen)
    assert thief.get("/api/status").status_code == 401


def test_old_agent_session_does_not_come_back_when_its_web_login_is_made_again(app, client):
    shown = run_wizard(client)
    agent = app.test_client()
    assert login(agent, "201", shown["web"]["201"]).status_code == 302
    stolen = agent.get_cookie("smallpbx_session").value
    assert agent.get("/api/status").status_code == 200
    post(client, "/extensions/201/web-login/remove", {}, page="/extensions/")
    assert _box(app).users.get("201") is None
    response = post(client, "/extensions/201/web-login", {}, page="/extensions/")
    assert response.status_code == 200 and _box(app).users.get("201") is not None
    thief = app.test_client()
    thief.set_cookie("smallpbx_session", stolen)
    assert thief.get("/api/status").status_code == 401


def test_new_users_start_at_different_random_epochs(app):
    users = _box(app).users
    users.create_first_admin("owner", ADMIN[1])
    users.add_agent("201", "201", "Agent-pass-xyz9")
    epochs = {users.get("owner").epoch, users.get("201").epoch}
    assert len(epochs) == 2 and all(e > 2 ** 20 for e in epochs)


# -- 3. login throttling --------------------------------------------------------------------------------

def _throttled_app(data_dir, **config):
    app = create_app(data_dir, testing=True, control_socket=data_dir / "no.sock", config=config)
    now = [1000.0]
    app.extensions["smallpbx_throttle"].clock = lambda: now[0]
    return app, now


def test_a_good_agent_login_does_not_wipe_out_failed_owner_guesses(data_dir):
    app, _now = _throttled_app(data_dir)
    owner = app.test_client()
    shown = run_wizard(owner)
    attacker = app.test_client()
    env = {"REMOTE_ADDR": "192.168.1.66"}
    statuses = []
    for _round in range(4):
        for _ in range(4):
            statuses.append(login(attacker, ADMIN[0], "Wrong-password-1", environ_base=env).status_code)
        response = login(attacker, "201", shown["web"]["201"], environ_base=env)
        statuses.append(response.status_code)
        if response.status_code == 302:
            attacker.post("/logout", data={"csrf_token": token(attacker, "/")}, environ_base=env)
    assert statuses[-1] == 429, statuses
    assert 429 in statuses[:10], statuses            # blocked in the second round already
    assert login(attacker, *ADMIN, environ_base=env).status_code == 429


def test_guesses_spread_over_addresses_block_the_name_but_not_the_owners_computer(data_dir):
    app, now = _throttled_app(data_dir)
    owner = app.test_client()
    run_wizard(owner)
    owner.post("/logout", data={"csrf_token": token(owner, "/")})
    assert login(owner, *ADMIN).status_code == 302      # 127.0.0.1: has logged in as "owner"
    answers = {}
    for name in (ADMIN[0], "ghost"):                   # a known and an unknown name, alike
        statuses = [login(app.test_client(), name, "Wrong-password-1",
                          environ_base={"REMOTE_ADDR": f"10.0.{len(answers)}.{i}"}).status_code for i in range(10)]
        assert statuses == [401] * 9 + [429], (name, statuses)
        response = login(app.test_client(), name, ADMIN[1], environ_base={"REMOTE_ADDR": "10.9.9.9"})
        html = re.sub(r'(csrf-token" content="|csrf_token" type="hidden" value=")[^"]+"', r"\1T", response.get_data(
            as_text=True)).replace(f'value="{name}"', 'value="NAME"')
        answers[name] = (response.status_code, html)
    assert answers[ADMIN[0]][0] == 429 and answers[ADMIN[0]] == answers["ghost"]
    # The owner's own computer is not locked out.
    owner.post("/logout", data={"csrf_token": token(owner, "/")})
    assert login(owner, *ADMIN).status_code == 302
    # After the block, new addresses may try again.
    now[0] += 901
    assert login(app.test_client(), *ADMIN, environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 302


# -- 4. big backups, stray files, identical files, passphrase header --------------------------------------

def _prompt(data_dir, lang: str, name: str, content: bytes):
    path = data_dir / "prompts" / "custom" / lang / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_a_backup_bigger_than_an_upload_restores_through_the_api_and_the_page(app, client, data_dir):
    run_wizard(client)
    big = {name: os.urandom(9 * 1024 * 1024) for name in ("big1.wav", "big2.wav")}
    for name, content in big.items():
        _prompt(data_dir, "en", name, content)
    raw = client.get("/api/backup").data
    assert len(raw) > 22 * 1024 * 1024
    for name in big:
        (data_dir / "prompts" / "custom" / "en" / name).unlink()
    response = client.post("/api/restore", data=raw, headers=_api_headers(client), content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert (data_dir / "prompts" / "custom" / "en" / "big1.wav").read_bytes() == big["big1.wav"]
    (data_dir / "prompts" / "custom" / "en" / "big2.wav").unlink()
    assert login(client, *ADMIN).status_code == 302
    response = post(client, "/system/restore", {"file": (io.BytesIO(raw), "backup.json"), "passphrase": ""},
                    page="/system/", content_type="multipart/form-data")
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    assert (data_dir / "prompts" / "custom" / "en" / "big2.wav").read_bytes() == big["big2.wav"]


def test_other_requests_keep_the_upload_limit(app, client):
    run_wizard(client)
    response = client.post("/api/extensions", data=b"x" * (22 * 1024 * 1024), headers=_api_headers(client),
                           content_type="application/json")
    assert response.status_code == 413


def test_a_stray_file_among_the_prompts_does_not_make_an_unrestorable_backup(app, client, data_dir):
    run_wizard(client)
    greeting = _prompt(data_dir, "en", "greeting.wav", b"RIFF-greeting")
    stray = [_prompt(data_dir, "en", "bad name.wav", b"x"), _prompt(data_dir, "fr", "bonjour.wav", b"y")]
    doc = json.loads(client.get("/api/backup").data)
    assert set(doc["files"]) == {"prompts/custom/en/greeting.wav"}
    greeting.unlink()
    response = client.post("/api/restore", data=json.dumps(doc), headers=_api_headers(client),
                           content_type="application/json")
    assert response.status_code == 200, response.json
    assert greeting.read_bytes() == b"RIFF-greeting"
    assert all(p.exists() for p in stray)            # what a backup cannot hold, a restore leaves alone


def test_identical_files_are_stored_once(app, client, data_dir):
    run_wizard(client)
    same = os.urandom(3000)
    for lang in ("en", "zh_CN"):
        _prompt(data_dir, lang, "greeting.wav", same)
    _prompt(data_dir, "en", "other.wav", b"RIFF-other")
    raw = client.get("/api/backup").data
    doc = json.loads(raw)
    assert doc["version"] == 2
    assert len(doc["files"]) == 2 and raw.count(base64.b64encode(same)) == 1
    assert doc["same"] == {"prompts/custom/zh_CN/greeting.wav": "prompts/custom/en/greeting.wav"}
    for lang in ("en", "zh_CN"):
        (data_dir / "prompts" / "custom" / lang / "greeting.wav").unlink()
    response = client.post("/api/restore", data=raw, headers=_api_headers(client), content_type="application/json")
    assert response.status_code == 200 and response.json["files"] == 3
    for lang in ("en", "zh_CN"):
        assert (data_dir / "prompts" / "custom" / lang / "greeting.wav").read_bytes() == same
    # "same" may only name a file the backup holds (and is covered by the signature like the rest).
    key = (data_dir / "web" / "backup_key").read_bytes()
    forged = box_backup.sign({**doc, "same": {"prompts/custom/zh_CN/x.wav": "prompts/custom/en/nothing.wav"}}, key)
    assert login(client, *ADMIN).status_code == 302
    response = client.post("/api/restore", data=json.dumps(forged), headers=_api_headers(client),
                           content_type="application/json")
    assert response.status_code == 400 and response.json["field"] == "same.prompts/custom/zh_CN/x.wav"


def test_a_non_ascii_passphrase_works_in_the_api_header(app, client):
    run_wizard(client)
    passphrase = "茶叶店的备份口令-2026"
    response = post(client, "/system/backup", {"passphrase": passphrase}, page="/system/")
    assert response.status_code == 200
    raw = response.data
    headers = {**_api_headers(client), "X-Backup-Passphrase": quote(passphrase, safe="")}
    response = client.post("/api/restore", data=raw, headers=headers, content_type="application/json")
    assert response.status_code == 200, response.json
    assert login(client, *ADMIN).status_code == 302
    headers = {**_api_headers(client), "X-Backup-Passphrase": quote("茶叶店的备份口令-2025", safe="")}
    response = client.post("/api/restore", data=raw, headers=headers, content_type="application/json")
    assert response.status_code == 400 and response.json["field"] == "passphrase"
    assert box_backup.header_passphrase("plain-ascii-pass") == "plain-ascii-pass"
    assert box_backup.header_passphrase(passphrase.encode().decode("latin-1")) == passphrase   # raw UTF-8 bytes
    spec = client.get("/api/openapi.json").json
    header = [p for p in spec["paths"]["/api/restore"]["post"]["parameters"] if p.get("name") == "X-Backup-Passphrase"]
    assert "percent-encoded UTF-8" in header[0]["description"]


def test_waitress_takes_a_restore_sized_body_and_believes_a_trusted_proxy(tmp_path):
    from web.server import make_server, stop
    data = tmp_path / "box"
    plain = make_server(data, "127.0.0.1", 0)
    try:
        assert plain.adj.max_request_body_size >= 200 * 1024 * 1024
        assert not plain.adj.trusted_proxy
    finally:
        stop(plain)
    server = make_server(data, "127.0.0.1", 0, trusted_proxy="127.0.0.1")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.effective_port}/login"
        cookies = {}
        for proto in ("http", "https"):
            request = urllib.request.Request(url, headers={"X-Forwarded-Proto": proto})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    cookies[proto] = response.headers.get("Set-Cookie", "")
            except urllib.error.HTTPError as exc:        # first boot: /login leads to the wizard
                cookies[proto] = exc.headers.get("Set-Cookie", "")
        assert "Secure" in cookies["https"] and "Secure" not in cookies["http"], cookies
    finally:
        stop(server)
        thread.join(timeout=5)


# -- 5. no lost updates of the line tables ---------------------------------------------------------------

def _race_before_the_lock(monkeypatch, app, data_dir, change):
    """Run ``change`` (another writer) just before the request takes the store's writer lock, once."""
    store = _box(app).store
    real = store._locked
    fired = []

    def locked():
        if not fired:
            fired.append(True)
            ConfigStore(data_dir).update_callcenter(change)
        return real()

    monkeypatch.setattr(store, "_locked", locked)
    return fired


def _add_other_route(tables):
    tables["outbound_routes"].append(dict(OTHER_ROUTE))


def test_saving_a_line_on_the_page_keeps_a_route_saved_meanwhile(app, client, data_dir, monkeypatch):
    run_wizard(client)
    response = post(client, "/lines/save", GSM, page="/lines/line?kind=gsm")
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    csrf = token(client, "/lines/line?id=gsm1")
    fired = _race_before_the_lock(monkeypatch, app, data_dir, _add_other_route)
    response = client.post("/lines/save", data={**GSM, "pin": "", "name": "Counter", "original": "gsm1",
                                                "csrf_token": csrf})
    assert response.status_code == 302 and fired
    tables = ConfigStore(data_dir).callcenter_tables()
    assert [r["id"] for r in tables["outbound_routes"]] == ["other"]
    assert tables["lines"][0]["name"] == "Counter" and tables["lines"][0]["pin"] == "1234"


def test_putting_a_line_through_the_api_keeps_a_route_saved_meanwhile(app, client, data_dir, monkeypatch):
    run_wizard(client)
    headers = _api_headers(client)
    line = {"kind": "gsm", "device": "/dev/ttyUSB2", "vendor": "sim7600", "route": "600"}
    assert client.put("/api/lines/gsm1", json=line, headers=headers).status_code == 201
    fired = _race_before_the_lock(monkeypatch, app, data_dir, _add_other_route)
    response = client.put("/api/lines/gsm1", json={**line, "name": "Counter"}, headers=headers)
    assert response.status_code == 200 and fired
    tables = ConfigStore(data_dir).callcenter_tables()
    assert [r["id"] for r in tables["outbound_routes"]] == ["other"] and tables["lines"][0]["name"] == "Counter"


def test_the_wizards_last_step_keeps_what_another_writer_stored_meanwhile(app, client, data_dir, monkeypatch):
    create_admin(client)
    post(client, "/setup/region", {"language": "en", "timezone": "Asia/Shanghai"})
    post(client, "/setup/line", {"choice": "skip"})
    post(client, "/setup/extensions", {"number": "201", "name": "Ann"})
    post(client, "/setup/extensions/next", {}, page="/setup/extensions")
    post(client, "/setup/hours", {"mon": "09:00-18:00", "closed": "announcement"})
    post(client, "/setup/greeting", {"mode": "default"})
    csrf = token(client, "/setup/queue")

    def add_route(tables):
        tables["routes"].append({"number": "700", "target": "hangup", "name": "Side door"})

    fired = _race_before_the_lock(monkeypatch, app, data_dir, add_route)
    response = client.post("/setup/queue", data={"name": "Sales", "strategy": "rrmemory", "members": ["201"],
                                                 "ring_timeout_s": "15", "wrapup_s": "5", "recording": "never",
                                                 "route_number": "600", "csrf_token": csrf})
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    assert fired
    numbers = sorted(r["number"] for r in ConfigStore(data_dir).callcenter_tables()["routes"])
    assert numbers == ["600", "700"]


# -- 6. / 7. dates and pages out of range ---------------------------------------------------------------

@pytest.mark.parametrize("url,field", [
    ("/api/calls?day=9999-12-31", "day"), ("/api/calls?day=1899-01-01", "day"),
    ("/api/history?to=9999-12-31", "to"), ("/api/history?from=0001-01-01", "from"),
    ("/api/history?page=99999999999999999999", "page"), ("/api/history?per_page=lots", "per_page"),
    ("/api/history?page=x", "page"), ("/api/reports?from=9999-12-30&to=9999-12-31", "to"),
    ("/api/history.csv?to=9999-12-31", "to"),
])
def test_out_of_range_values_are_refused_by_field(client, url, field):
    run_wizard(client)
    response = client.get(url)
    assert response.status_code == 400 and response.json["field"] == field, (url, response.get_json())


@pytest.mark.parametrize("url", ["/history/?to=9999-12-31", "/recordings/?from=9999-12-31&to=9999-12-31",
                                 "/reports/?from=9999-12-30&to=9999-12-31", "/history/?page=99999999999999999999"])
def test_out_of_range_values_on_pages_are_400(client, url):
    run_wizard(client)
    response = client.get(url)
    assert response.status_code == 400, url


def test_the_last_day_allowed_works(client):
    run_wizard(client)
    assert client.get("/api/calls?day=2100-12-31").status_code == 200
    assert client.get("/api/history?from=2000-01-01&to=2000-01-31&page=1000000").status_code == 200
    client.get("/lang/zh")
    response = client.get("/api/history?to=2101-01-01")
    assert response.json["error"] == "必须是 2000-01-01 到 2100-12-31 之间的日期"


# -- 8. optional fields left out of a POST ---------------------------------------------------------------

def test_an_extension_posted_without_a_name(client, data_dir):
    run_wizard(client)
    response = post(client, "/extensions/", {"number": "203"}, page="/extensions/")
    assert response.status_code == 201
    assert "203" in [e["number"] for e in ConfigStore(data_dir).extensions()]


def test_a_wizard_extension_posted_without_a_name(client, data_dir):
    create_admin(client)
    post(client, "/setup/region", {"language": "en", "timezone": "Asia/Shanghai"})
    post(client, "/setup/line", {"choice": "skip"})
    response = post(client, "/setup/extensions", {"number": "201"})
    assert response.status_code == 201
    assert "201" in [e["number"] for e in ConfigStore(data_dir).extensions()]
    # ... and without the number: refused next to it.
    response = post(client, "/setup/extensions", {"name": "Bo"})
    assert response.status_code == 400 and list(field_errors(response.get_data(as_text=True))) == ["number"]


def test_call_center_forms_posted_without_their_optional_fields(client, data_dir):
    run_wizard(client)
    client.get("/lang/en")
    # A new menu without greeting or operator: refused next to the operator (it needs one).
    response = post(client, "/callcenter/menus/", {"menu_id": "night"}, page="/callcenter/menus/")
    assert response.status_code == 400
    assert list(field_errors(response.get_data(as_text=True))) == ["operator"]
    # ... without a greeting only: made, with the default greeting.
    response = post(client, "/callcenter/menus/", {"menu_id": "night", "operator": "hangup"},
                    page="/callcenter/menus/")
    assert response.status_code == 302 and response.headers["Location"] == "/callcenter/menus/night"
    # New business hours without destinations: refused next to the field.
    response = post(client, "/callcenter/time-conditions/", {"tc_id": "weekend"}, page="/callcenter/time-conditions/")
    assert response.status_code == 400
    assert list(field_errors(response.get_data(as_text=True))) == ["open"]
    # The menu editor without the prompt fields: saved.
    response = post(client, "/callcenter/menus/main", {"operator": "queue:main", "timeout_s": "5",
                                                       "inter_digit_s": "3", "max_attempts": "3"},
                    page="/callcenter/menus/main")
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    menu = next(m for m in ConfigStore(data_dir).callcenter_tables()["menus"] if m["id"] == "main")
    assert menu["operator"] == "queue:main" and not menu.get("invalid_prompt")
    # An inbound route without a name.
    response = post(client, "/callcenter/routes/", {"number": "700", "target": "queue:main"},
                    page="/callcenter/routes/")
    assert response.status_code == 302


# -- 9. restore input -----------------------------------------------------------------------------------

def test_a_deeply_nested_backup_is_refused_not_a_crash(client):
    run_wizard(client)
    raw = '{"format": "smallpbx-backup", "version": 1, "x": ' + "[" * 200000 + "]" * 200000 + "}"
    response = client.post("/api/restore", data=raw, headers=_api_headers(client), content_type="application/json")
    assert response.status_code == 400 and response.json["field"] == "backup"


@pytest.mark.parametrize("wizard,field", [
    ({"done": True, "step": "x", "draft": {}}, "web.state.wizard.step"),
    ({"done": True, "step": 99, "draft": {}}, "web.state.wizard.step"),
    ({"done": True, "step": True, "draft": {}}, "web.state.wizard.step"),
    ({"done": "yes", "step": 7, "draft": {}}, "web.state.wizard.done"),
    ({"done": True, "step": 7, "draft": ["x"]}, "web.state.wizard.draft"),
])
def test_a_restored_state_with_a_damaged_wizard_is_refused(client, data_dir, wizard, field):
    run_wizard(client)
    doc = json.loads(client.get("/api/backup").data)
    doc["web"]["state"]["wizard"] = wizard
    key = (data_dir / "web" / "backup_key").read_bytes()
    state_before = (data_dir / "web" / "state.json").read_bytes()
    response = client.post("/api/restore", data=json.dumps(box_backup.sign(doc, key)), headers=_api_headers(client),
                           content_type="application/json")
    assert response.status_code == 400 and response.json["field"] == field, response.json
    assert (data_dir / "web" / "state.json").read_bytes() == state_before
    assert client.get("/").status_code == 200


# -- 10. an extension and its web login: both or neither -----------------------------------------------

def test_an_extension_whose_web_login_cannot_be_made_is_not_added(app, client, data_dir):
    run_wizard(client)
    # A web login left tied to extension 203 (its extension was removed with the CLI, say).
    _box(app).users.add_agent("olduser", "203", "Old-agent-pass-9")
    response = post(client, "/extensions/", {"number": "203", "name": "Cai", "web_login": "y"}, page="/extensions/")
    assert response.status_code == 400
    assert "203" not in [e["number"] for e in ConfigStore(data_dir).extensions()]
    assert 'class="sip-password"' not in response.get_data(as_text=True)


def test_an_extension_is_removed_again_when_saving_its_web_login_fails(app, client, data_dir, monkeypatch):
    run_wizard(client)
    users = _box(app).users

    def busy(*_args, **_kw):
        raise StoreBusyError("users.json is locked by another writer")

    monkeypatch.setattr(users, "add_agent", busy)
    response = post(client, "/extensions/", {"number": "204", "web_login": "y"}, page="/extensions/")
    assert response.status_code == 503
    response = client.post("/api/extensions", json={"number": "205", "web_login": True}, headers=_api_headers(client))
    assert response.status_code == 503
    numbers = [e["number"] for e in ConfigStore(data_dir).extensions()]
    assert "204" not in numbers and "205" not in numbers


def test_a_generated_web_password_is_always_one_the_rules_accept(monkeypatch):
    from web.auth import users
    draws = iter("234" + "abcdefghjkm" + "xyzabcdefghjkm")          # first draw contains the user name
    monkeypatch.setattr(users.secrets, "choice", lambda _alphabet: next(draws))
    password = users.generate_password("234")
    assert password == "xyzabcdefghjkm"
    users.check_password(password, "234")


# -- 11. API errors and the greeting's audio error in Chinese ----------------------------------------------

def test_api_errors_are_translated(app, client):
    zh = {"Accept-Language": "zh-CN"}
    assert client.get("/api/status", headers=zh).json["error"] == "尚未完成设置"
    shown = run_wizard(client)
    other = app.test_client()
    assert other.get("/api/status", headers=zh).json["error"] == "需要登录"
    agent = app.test_client()
    login(agent, "201", shown["web"]["201"])
    agent.get("/lang/zh")
    assert agent.get("/api/calls?agent=202").json["error"] == "坐席只能查看自己的通话"
    assert agent.get("/api/recordings/nope.wav").json["error"] == "没有这个录音"
    csrf = token(agent, "/")
    assert agent.post("/api/agents/202/pause", headers={"X-CSRFToken": csrf}).json["error"] == "坐席只能更改自己的状态"
    client.get("/lang/zh")
    headers = _api_headers(client)
    assert client.delete("/api/extensions/999/web-login", headers=headers).json["error"] == "这个分机没有网页登录"
    assert client.delete("/api/lines/nope", headers=headers).json["error"] == "没有这条线路"
    assert client.post("/api/agents/201/dance", headers=headers).json["error"].startswith("操作只能是")


def test_the_audio_error_is_shown_translated_without_sox_detail(app):
    from web.i18n import translate_error
    raw = ("could not be read as audio: sox FAIL formats: can't open input file `/tmp/tmpab12/upload.wav': "
           "WAVE: RIFF header not found\nmore")
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert translate_error(raw) == "无法作为音频读取"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert translate_error(raw) == "could not be read as audio"


@pytest.mark.skipif(not __import__("shutil").which("sox"), reason="sox is not installed")
def test_a_bad_greeting_upload_is_refused_without_temp_paths(client):
    create_admin(client)
    post(client, "/setup/region", {"language": "zh_CN", "timezone": "Asia/Shanghai"})
    post(client, "/setup/line", {"choice": "skip"})
    post(client, "/setup/extensions/next", {}, page="/setup/extensions")
    post(client, "/setup/hours", {"mon": "09:00-18:00", "closed": "announcement"})
    response = post(client, "/setup/greeting", {"mode": "upload", "audio": (io.BytesIO(b"not audio"), "hello.wav")},
                    content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_errors(html)["audio"] == ["无法作为音频读取"]
    assert "/tmp" not in html and "sox" not in html


# -- 12. Host header (DNS rebinding) ------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "192.0.2.1", "localhost.evil.example"])
def test_a_foreign_host_is_refused_even_at_first_boot(client, host):
    assert client.get("/setup/password", headers={"Host": host}).status_code == 400
    assert client.get("/api/openapi.json", headers={"Host": host}).status_code == 400
    response = client.post("/setup/password", headers={"Host": host},
                           data={"username": "evil", "password": ADMIN[1], "confirm": ADMIN[1]})
    assert response.status_code == 400
    assert client.get("/setup/password").status_code == 200


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:5000", "[::1]:8080", "localhost:80",
                                  f"{socket.gethostname()}.local", socket.gethostname()])
def test_the_boxs_own_names_are_answered(client, host):
    assert client.get("/setup/password", headers={"Host": host}).status_code == 200


def test_the_boxs_addresses_and_configured_names_are_answered(data_dir):
    from web.security import interface_addresses
    app = create_app(data_dir, testing=True, config={"TRUSTED_HOSTS": ["pbx.shop.lan:8080", "[fd00::5]"]})
    client = app.test_client()
    assert client.get("/setup/password", headers={"Host": "pbx.shop.lan:8080"}).status_code == 200
    assert client.get("/setup/password", headers={"Host": "[fd00::5]:8080"}).status_code == 200
    assert client.get("/setup/password", headers={"Host": "other.shop.lan"}).status_code == 400
    for address in [a for a in interface_addresses() if ":" not in a][:3]:
        assert client.get("/setup/password", headers={"Host": f"{address}:8080"}).status_code == 200, address


# -- 13. change my password -------------------------------------------------------------------------------

def test_the_owner_changes_the_password_other_sessions_end_this_one_stays(app, client):
    run_wizard(client)
    client.get("/lang/en")
    other = app.test_client()
    assert login(other, *ADMIN).status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert 'id="change-password-link"' in page and 'href="/account/password"' in page
    new = "Green-tea-Key-77"
    response = post(client, "/account/password", {"current": "Wrong-password-1", "password": new, "confirm": new})
    assert response.status_code == 400 and field_errors(response.get_data(as_text=True)) == {
        "current": ["This is not your current password."]}
    response = post(client, "/account/password", {"current": ADMIN[1], "password": "short", "confirm": "short"})
    assert response.status_code == 400 and "password" in field_errors(response.get_data(as_text=True))
    response = post(client, "/account/password", {"current": ADMIN[1], "password": "owner-Key-12345",
                                                   "confirm": "owner-Key-12345"})
    assert field_errors(response.get_data(as_text=True)) == {"password": ["must not contain the user name"]}
    response = post(client, "/account/password", {"current": ADMIN[1], "password": new, "confirm": new + "x"})
    assert field_errors(response.get_data(as_text=True)) == {"confirm": ["The two passwords differ."]}
    response = post(client, "/account/password", {"current": ADMIN[1], "password": new, "confirm": new})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/api/session").status_code == 200              # this session stays
    assert other.get("/api/session").status_code == 401               # the other one ended
    assert login(app.test_client(), *ADMIN).status_code == 401
    assert login(app.test_client(), ADMIN[0], new).status_code == 302


def test_an_agent_changes_its_own_password(app, client):
    shown = run_wizard(client)
    agent = app.test_client()
    assert login(agent, "201", shown["web"]["201"]).status_code == 302
    assert 'id="change-password-link"' in agent.get("/").get_data(as_text=True)
    new = "Ann-own-pass-55"
    response = post(agent, "/account/password", {"current": shown["web"]["201"], "password": new, "confirm": new})
    assert response.status_code == 302
    assert agent.get("/api/session").json["user"] == "201"
    assert login(app.test_client(), "201", new).status_code == 302
    assert login(app.test_client(), "201", shown["web"]["201"]).status_code == 401


def test_change_password_needs_a_login_and_is_in_chinese(app, client):
    run_wizard(client)
    assert app.test_client().get("/account/password").headers["Location"].startswith("/login")
    client.get("/lang/zh")
    page = client.get("/account/password").get_data(as_text=True)
    assert "修改密码" in page and "当前密码" in page
