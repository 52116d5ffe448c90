"""The lines and trunks page, the wizard's line step, the system page, and
backup / restore: changes go through the config store (refusals next to
the field, nothing saved), secrets are never shown back, a backup restores
exactly and a changed one is refused with nothing changed; agents are kept
out; Chinese. One test runs against the real box with an emulated modem."""
from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest

from firmware.config import lines as lines_config
from firmware.config import schema
from firmware.config.store import ConfigStore
from firmware.errors import ControlError
from web import create_app
from web.system import backup as box_backup
from webtools import ADMIN, FakeCore, box_helpers, create_admin, field_errors, login, post, run_wizard, token

GSM = {"kind": "gsm", "id": "gsm1", "name": "Shop mobile", "device": "/dev/ttyUSB2", "vendor": "sim7600",
       "pin": "1234", "pcm_device": "/dev/ttyUSB4", "sound_device": "", "power_pin": "17", "rx_gain_db": "0",
       "tx_gain_db": "-3", "route": "600", "enabled": "y"}
TRUNK = {"kind": "sip", "id": "trunk1", "name": "Provider", "server": "sip.provider.example:5060",
         "username": "shop", "password": "Provider-Secret-77", "register": "y", "allow_from": "", "route": "600",
         "enabled": "y"}
ROUTE = {"id": "mobile", "patterns": "_1[3-9]XXXXXXXXX\n_00X.", "lines": "gsm1", "extensions": "*", "strip": "0",
         "prepend": ""}


class LineCore(FakeCore):
    """The stand-in core, also answering the line commands."""

    def __init__(self, path):
        super().__init__(path)
        self.texts = [{"id": 1, "time": 1_790_000_000.0, "line": "gsm1", "direction": "in",
                       "number": "13800138000", "text": "你好, open today?", "status": "received"}]

    def handle(self, cmd, args):
        if cmd == "lines":
            with self.lock:
                self.requests.append((cmd, dict(args)))
            return [{"name": "gsm1", "kind": "gsm", "state": "no-network", "detail": "", "since": 1.0,
                     "signal_dbm": -71, "in_call": False, "recovery": ["reopen"], "route": "600", "label": "",
                     "call": None, "panel_state": "down"}]
        if cmd == "line-events":
            return [{"id": 1, "time": 1_790_000_100.0, "line": "gsm1", "state": "no-network", "detail": ""}]
        if cmd == "sms-list":
            return list(self.texts)
        if cmd == "sms-send":
            with self.lock:
                self.requests.append((cmd, dict(args)))
            if args.get("line") not in (None, "gsm1"):
                raise ControlError(f"no line {args['line']!r}")
            return {"id": 2, "line": "gsm1"}
        return super().handle(cmd, args)


@pytest.fixture
def line_core(sock_path):
    core = LineCore(sock_path)
    core.server.start()
    yield core
    core.server.close()


def _config(data_dir) -> bytes:
    return (data_dir / "config.json").read_bytes()


def _users(data_dir) -> bytes:
    return (data_dir / "web" / "users.json").read_bytes()


def _tables(data_dir) -> dict:
    return ConfigStore(data_dir).callcenter_tables()


def _setup(client) -> dict:
    """The wizard (which leaves the page in Chinese, the box's language), then English pages."""
    shown = run_wizard(client)
    client.get("/lang/en")
    return shown


def _save_line(client, form: dict):
    return post(client, "/lines/save", form, page=f"/lines/line?kind={form['kind']}")


# -- the lines page ---------------------------------------------------------------------------------

def test_a_gsm_line_and_an_outbound_route_added_through_the_forms_are_stored_and_valid(client, data_dir):
    _setup(client)
    response = _save_line(client, GSM)
    assert response.status_code == 302 and response.headers["Location"] == "/lines/", \
        field_errors(response.get_data(as_text=True))
    response = post(client, "/lines/routes/save", ROUTE, page="/lines/route")
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    tables = _tables(data_dir)
    assert tables["lines"] == [{"id": "gsm1", "kind": "gsm", "name": "Shop mobile", "device": "/dev/ttyUSB2",
                                "vendor": "sim7600", "pin": "1234", "pcm_device": "/dev/ttyUSB4", "sound_device": "",
                                "power_pin": 17, "rx_gain_db": 0, "tx_gain_db": -3, "route": "600", "enabled": True}]
    assert tables["outbound_routes"] == [{"id": "mobile", "patterns": ["_1[3-9]XXXXXXXXX", "_00X."],
                                          "lines": ["gsm1"], "extensions": ["*"], "strip": 0, "prepend": ""}]
    # The call center the wizard made is still there (replace_callcenter replaces what it is not given).
    assert [r["number"] for r in tables["routes"]] == ["600"] and tables["queues"][0]["id"] == "main"
    document = ConfigStore(data_dir).read_document()
    schema.validate(document)
    built = lines_config.build(document, {"600"})
    assert built.outbound[0].lines == ("gsm1",) and built.lines["gsm1"]["route"] == "600"
    page = client.get("/lines/").get_data(as_text=True)
    assert 'id="line-gsm1"' in page and 'id="route-mobile"' in page and 'id="core-down"' in page
    assert "1234" not in page                       # the PIN is not shown back
    edit = client.get("/lines/line?id=gsm1").get_data(as_text=True)
    assert 'value="1234"' not in edit and 'id="pin-stored"' in edit and 'value="/dev/ttyUSB4"' in edit
    # Changing the label keeps the PIN (field left empty); "remove the stored PIN" removes it.
    form = {**GSM, "pin": "", "name": "Counter", "original": "gsm1"}
    assert _save_line(client, form).status_code == 302
    assert _tables(data_dir)["lines"][0]["pin"] == "1234" and _tables(data_dir)["lines"][0]["name"] == "Counter"
    assert _save_line(client, {**form, "clear_pin": "y"}).status_code == 302
    assert _tables(data_dir)["lines"][0]["pin"] == ""


def test_a_bad_sim_pin_is_refused_next_to_its_field_and_nothing_is_saved(client, data_dir):
    _setup(client)
    before = _config(data_dir)
    response = _save_line(client, {**GSM, "pin": "12a4"})
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True)) == {"pin": ["must be 4 to 8 digits, or empty"]}
    assert _config(data_dir) == before
    # Other refusals land on their own field too, in Chinese when the page is.
    client.get("/lang/zh")
    response = _save_line(client, {**GSM, "device": "COM3"})
    assert field_errors(response.get_data(as_text=True)) == {"device": ["必须是 /dev/ 路径、pyserial URL 或“sim”"]}
    response = _save_line(client, {**GSM, "route": "999"})
    [message] = field_errors(response.get_data(as_text=True))["route"]
    assert "呼入路由" in message                     # the wording may come from another page's catalogue
    response = post(client, "/lines/routes/save", {**ROUTE, "lines": "gsm9"}, page="/lines/route")
    assert field_errors(response.get_data(as_text=True)) == {"lines": ["gsm9 不是一条线路"]}
    response = post(client, "/lines/routes/save", {**ROUTE, "lines": "", "patterns": "12a"}, page="/lines/route")
    assert set(field_errors(response.get_data(as_text=True))) == {"lines"}          # the form's own check first
    assert _config(data_dir) == before


def test_a_trunk_password_is_never_shown_and_kept_when_left_empty(client, data_dir):
    _setup(client)
    secret = TRUNK["password"]
    response = _save_line(client, {**TRUNK, "password": ""})
    assert field_errors(response.get_data(as_text=True)) == {"password": ["is needed to register to a provider"]}
    assert _save_line(client, TRUNK).status_code == 302
    assert _tables(data_dir)["lines"][0]["password"] == secret
    for url in ("/lines/", "/lines/line?id=trunk1", "/api/lines", "/lines/route"):
        page = client.get(url).get_data(as_text=True)
        assert secret not in page, url
    assert client.get("/api/lines").json["lines"][0]["password_set"] is True
    # Saved again with the field empty: the stored password stays.
    response = _save_line(client, {**TRUNK, "password": "", "username": "shop2", "original": "trunk1"})
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    trunk = _tables(data_dir)["lines"][0]
    assert trunk["password"] == secret and trunk["username"] == "shop2"
    # The API: left out keeps it; null removes it (refused while it registers); the answer never has it.
    headers = {"X-CSRFToken": token(client, "/")}
    response = client.put("/api/lines/trunk1", json={"name": "Main provider"}, headers=headers)
    assert response.status_code == 200 and secret not in response.get_data(as_text=True)
    assert _tables(data_dir)["lines"][0]["password"] == secret
    response = client.put("/api/lines/trunk1", json={"password": None}, headers=headers)
    assert response.status_code == 400 and response.json["field"] == "lines.trunk1.password"
    assert _tables(data_dir)["lines"][0]["password"] == secret


def test_line_api_add_refuse_and_remove(client, data_dir):
    _setup(client)
    headers = {"X-CSRFToken": token(client, "/")}
    before = _config(data_dir)
    response = client.put("/api/lines/gsm2", json={"kind": "gsm", "device": "sim", "pin": "1", "route": "600"},
                          headers=headers)
    assert response.status_code == 400
    assert response.json == {"error": "must be 4 to 8 digits, or empty", "field": "lines.gsm2.pin"}
    assert _config(data_dir) == before
    response = client.put("/api/lines/gsm2", json={"kind": "gsm", "device": "sim", "pin": "4321", "route": "600"},
                          headers=headers)
    assert response.status_code == 201 and response.json["line"]["pin_set"] is True
    assert "4321" not in response.get_data(as_text=True) and response.json["applied"] is False
    response = client.put("/api/lines/gsm2", json={"kind": "sip"}, headers=headers)
    assert response.status_code == 400 and response.json["field"] == "lines.gsm2.kind"
    listed = client.get("/api/lines").json
    assert [l["id"] for l in listed["lines"]] == ["gsm2"] and listed["core"] == {"reachable": False}
    assert listed["lines"][0]["live"] is None
    assert client.delete("/api/lines/gsm2", headers=headers).json == {"removed": "gsm2", "applied": False}
    assert client.delete("/api/lines/gsm2", headers=headers).status_code == 404
    assert _tables(data_dir)["lines"] == []


def test_removing_a_line_leaves_the_routes_or_refuses_naming_the_route(client, data_dir):
    _setup(client)
    _save_line(client, GSM)
    _save_line(client, TRUNK)
    post(client, "/lines/routes/save", {**ROUTE, "lines": "gsm1, trunk1"}, page="/lines/route")
    post(client, "/lines/routes/save", {**ROUTE, "id": "intl", "patterns": "_00X.", "lines": "trunk1"},
         page="/lines/route")
    assert post(client, "/lines/remove", {"id": "gsm1"}, page="/lines/").status_code == 302
    assert [r["lines"] for r in _tables(data_dir)["outbound_routes"]] == [["trunk1"], ["trunk1"]]
    before = _config(data_dir)
    response = post(client, "/lines/remove", {"id": "trunk1"}, page="/lines/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "not removed" in page and "outbound_routes.mobile.lines" in page
    assert _config(data_dir) == before


def test_the_lines_page_shows_the_cores_live_state_events_and_texts(client, line_core):
    _setup(client)
    _save_line(client, GSM)
    page = client.get("/lines/").get_data(as_text=True)
    row = re.search(r'<tr id="line-gsm1".*?</tr>', page, re.S).group(0)
    assert 'data-state="no-network"' in row and "no mobile network" in row and "-71 dBm" in row
    assert "reopen" in row and 'id="core-down"' not in page
    assert 'id="event-list"' in page
    texts = client.get("/lines/texts").get_data(as_text=True)
    assert "你好, open today?" in texts and "13800138000" in texts
    response = post(client, "/lines/texts", {"number": "1380013800x", "text": "hi", "line": ""})
    assert response.status_code == 400 and set(field_errors(response.get_data(as_text=True))) == {"number"}
    response = post(client, "/lines/texts", {"number": "+8613800138000", "text": "We open at 9.", "line": "gsm1"})
    assert response.status_code == 302
    assert ("sms-send", {"number": "+8613800138000", "text": "We open at 9.", "line": "gsm1"}) in line_core.requests
    headers = {"X-CSRFToken": token(client, "/")}
    assert client.get("/api/sms").json["texts"][0]["text"] == "你好, open today?"
    response = client.post("/api/sms", json={"number": "13800138000", "text": "x", "line": "gsm7"}, headers=headers)
    assert response.status_code == 409 and response.json["core"] == "refused"
    response = client.post("/api/sms", json={"number": "abc", "text": "x"}, headers=headers)
    assert response.status_code == 400 and response.json["field"] == "number"


def test_texts_need_the_core(client):
    _setup(client)
    page = client.get("/lines/texts").get_data(as_text=True)
    assert 'id="texts-unavailable"' in page
    response = post(client, "/lines/texts", {"number": "13800138000", "text": "hi", "line": ""})
    assert response.status_code == 409 and "not running" in response.get_data(as_text=True)
    assert client.get("/api/sms").status_code == 503


# -- the wizard's line step -------------------------------------------------------------------------

def _wizard_to_line(client):
    create_admin(client)
    post(client, "/setup/region", {"language": "en", "timezone": "Asia/Shanghai"})


def _finish_wizard(client, route_number: str = "600"):
    post(client, "/setup/extensions", {"number": "201", "name": "Ann"})
    post(client, "/setup/extensions/next", {}, page="/setup/extensions")
    post(client, "/setup/hours", {"mon": "09:00-18:00", "closed": "announcement"})
    post(client, "/setup/greeting", {"mode": "default"})
    response = post(client, "/setup/queue", {"name": "Shop", "strategy": "ringall", "members": ["201"],
                                              "ring_timeout_s": "15", "wrapup_s": "5", "recording": "never",
                                              "route_number": route_number})
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))


def test_wizard_line_step_refuses_a_bad_pin_and_saves_the_line_with_the_wizards_route(client, data_dir):
    _wizard_to_line(client)
    page = client.get("/setup/line").get_data(as_text=True)
    assert 'value="/dev/ttyUSB2"' in page and 'value="sim"' in page          # no hat here: the simulated modem
    form = {"choice": "gsm", "device": "/dev/ttyUSB2", "vendor": "sim800", "pcm_device": "", "pin": "99"}
    response = post(client, "/setup/line", form)
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True)) == {"pin": ["must be 4 to 8 digits, or empty"]}
    assert "line" not in json.loads((data_dir / "web" / "state.json").read_text())["wizard"]["draft"]
    response = post(client, "/setup/line", {**form, "pin": "2468"})
    assert response.headers["Location"].endswith("/setup/extensions")
    assert _tables(data_dir)["lines"] == []                    # waits for its route (the last step)
    page = client.get("/setup/line").get_data(as_text=True)
    assert "2468" not in page and 'id="pin-saved"' in page
    _finish_wizard(client, "611")
    [line] = _tables(data_dir)["lines"]
    assert line == {**line, "id": "gsm1", "kind": "gsm", "device": "/dev/ttyUSB2", "vendor": "sim800",
                    "pin": "2468", "route": "611"}
    schema.validate(ConfigStore(data_dir).read_document())


def test_wizard_line_step_simulated_modem_or_skip(app, data_dir):
    simulated = app.test_client()
    _wizard_to_line(simulated)
    post(simulated, "/setup/line", {"choice": "sim", "device": "", "vendor": "sim7600", "pin": ""})
    _finish_wizard(simulated)
    assert [(l["id"], l["device"], l["route"]) for l in _tables(data_dir)["lines"]] == [("gsm1", "sim", "600")]


def test_wizard_line_step_skipped_stores_no_line(client, data_dir):
    _wizard_to_line(client)
    assert post(client, "/setup/line", {"choice": "skip"}).headers["Location"].endswith("/setup/extensions")
    _finish_wizard(client)
    assert _tables(data_dir)["lines"] == []


# -- the system page --------------------------------------------------------------------------------

def test_the_system_page_shows_time_storage_core_and_the_end_of_the_log(data_dir, sock_path, tmp_path):
    log = tmp_path / "box.log"
    log.write_text("".join(f"log line {i}\n" for i in range(1, 301)))
    app = create_app(data_dir, testing=True, control_socket=sock_path, config={"LOG_FILE": str(log)})
    client = app.test_client()
    _setup(client)
    (data_dir / "recordings" / "2026").mkdir(parents=True)
    (data_dir / "recordings" / "2026" / "a.wav").write_bytes(b"\0" * 1536)
    page = client.get("/system/").get_data(as_text=True)
    assert "Asia/Shanghai (UTC+0800)" in page
    assert re.search(r'id="recordings-size">1\.5 KB', page)
    assert re.search(r'id="core-state"><span class="error">not running', page)
    lines = re.search(r'<pre class="textblock" id="log-lines">(.*?)</pre>', page, re.S).group(1).splitlines()
    assert lines[0] == "log line 101" and lines[-1] == "log line 300" and len(lines) == 200
    info = client.get("/api/system").json
    assert info["storage"]["recordings_bytes"] == 1536 and info["time"]["timezone"] == "Asia/Shanghai"
    assert info["core"]["reachable"] is False and len(info["logs"]["lines"]) == 200
    # Reload without a core says so; a missing log file is "not available", not an error page.
    response = post(client, "/system/reload", {}, page="/system/")
    assert "not running" in client.get(response.headers["Location"]).get_data(as_text=True)
    log.unlink()
    assert 'id="logs-unavailable"' in client.get("/system/").get_data(as_text=True)


def test_reload_goes_to_the_core(client, fake_core):
    _setup(client)
    page = client.get("/system/").get_data(as_text=True)
    assert re.search(r'id="core-state"><span class="ok">running', page) and "kamailio test" in page
    asked = len(fake_core.commands())
    response = post(client, "/system/reload", {}, page="/system/")
    assert "reload" in fake_core.commands()[asked:]
    assert "re-read the configuration" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_restart_waits_for_calls_by_default_can_be_cancelled_or_be_now(client, fake_core):
    _setup(client)
    page = client.get("/system/").get_data(as_text=True)
    assert 'id="restart-form"' in page and re.search(r'<input checked[^>]*value="idle"', page)
    response = post(client, "/system/restart", {"when": "idle"}, page="/system/")
    assert fake_core.requests[-1] == ("restart", {"when": "idle"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "restarts as soon as no call is up" in page
    # The page now says what it waits for (the fake core has one call up) and offers a cancel.
    assert re.search(r'id="restart-pending">[^<]*\(1 up now\)', page) and 'id="restart-form"' not in page
    response = post(client, "/system/restart/cancel", {}, page="/system/")
    assert fake_core.requests[-1] == ("restart", {"when": "cancel"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The restart was cancelled." in page and 'id="restart-form"' in page
    post(client, "/system/restart", {"when": "now"}, page="/system/")
    assert fake_core.requests[-1] == ("restart", {"when": "now"})
    # Anything else is refused next to the field, and the core is not asked.
    asked = len(fake_core.requests)
    response = post(client, "/system/restart", {"when": "reboot"}, page="/system/")
    assert response.status_code == 400 and list(field_errors(response.get_data(as_text=True))) == ["when"]
    assert "restart" not in fake_core.commands()[asked:]
    # The API does the same, with its own refusal for a bad value.
    csrf = token(client, "/system/")
    assert client.post("/api/system/restart", json={"when": "later"},
                       headers={"X-CSRFToken": csrf}).json["field"] == "when"
    assert client.post("/api/system/restart", json={}, headers={"X-CSRFToken": csrf}).json == \
        {"restart": "idle", "cancelled": False}
    assert client.post("/api/system/restart", json={}).status_code == 400          # no CSRF token


def test_restart_without_a_core_says_it_is_not_running(client):
    _setup(client)
    page = client.get("/system/").get_data(as_text=True)
    assert 'id="restart-form"' not in page
    response = post(client, "/system/restart", {"when": "now"}, page="/system/")
    assert "not running" in client.get(response.headers["Location"]).get_data(as_text=True)


# -- backup and restore -----------------------------------------------------------------------------

def _backup(client, passphrase: str = "") -> bytes:
    response = post(client, "/system/backup", {"passphrase": passphrase}, page="/system/")
    assert response.status_code == 200, field_errors(response.get_data(as_text=True))
    assert response.headers["Content-Disposition"].startswith('attachment; filename="smallpbx-backup-')
    return response.data


def _restore(client, raw: bytes, passphrase: str = ""):
    import io
    return post(client, "/system/restore", {"file": (io.BytesIO(raw), "backup.json"), "passphrase": passphrase},
                page="/system/", content_type="multipart/form-data")


def _greeting(data_dir, content: bytes = b"RIFF-greeting"):
    path = data_dir / "prompts" / "custom" / "en" / "greeting.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_backup_then_restore_brings_back_the_configuration_exactly(app, client, data_dir):
    _setup(client)
    _save_line(client, TRUNK)
    greeting = _greeting(data_dir)
    config, users = _config(data_dir), json.loads(_users(data_dir))
    raw = _backup(client)
    doc = json.loads(raw)
    assert doc["format"] == "smallpbx-backup" and doc["version"] == 1 and doc["auth"] == {
        "alg": "HMAC-SHA256", "key": "box"}
    assert doc["config"] == json.loads(config) and set(doc["web"]) == {"users", "state"}
    assert doc["files"] == {"prompts/custom/en/greeting.wav": "UklGRi1ncmVldGluZw=="}
    key = data_dir / "web" / "backup_key"
    assert oct(key.stat().st_mode & 0o777) == "0o600" and len(key.read_bytes()) == 32
    assert key.read_bytes().hex() not in raw.decode() and "backup_key" not in raw.decode()
    # Things change after the backup ...
    headers = {"X-CSRFToken": token(client, "/")}
    assert client.post("/api/extensions", json={"number": "203", "name": "Cai", "web_login": True},
                       headers=headers).status_code == 201
    assert client.delete("/api/lines/trunk1", headers=headers).status_code == 200
    greeting.unlink()
    _greeting(data_dir).with_name("extra.wav").write_bytes(b"RIFF-extra")
    assert _config(data_dir) != config
    # ... and the restore brings back exactly what was saved.
    response = _restore(client, raw)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert _config(data_dir) == config
    restored = json.loads(_users(data_dir))
    assert set(restored["users"]) == set(users["users"]) == {ADMIN[0], "201", "202"}
    for name, rec in users["users"].items():
        assert restored["users"][name]["hash"] == rec["hash"]
        assert restored["users"][name]["epoch"] > rec["epoch"]                  # every session ended
    assert greeting.read_bytes() == b"RIFF-greeting" and not greeting.with_name("extra.wav").exists()
    assert client.get("/system/").headers["Location"].startswith("/login")
    assert login(client, *ADMIN).status_code == 302
    assert client.get("/system/").status_code == 200
    # The same through the API.
    headers = {"X-CSRFToken": token(client, "/")}
    api_raw = client.get("/api/backup").data
    assert json.loads(api_raw)["config"] == json.loads(config)
    client.post("/api/extensions", json={"number": "204"}, headers=headers)
    response = client.post("/api/restore", data=api_raw, headers=headers, content_type="application/json")
    assert response.status_code == 200 and response.json["users"] == sorted(users["users"])
    assert _config(data_dir) == config


@pytest.mark.parametrize("change", ["one byte of the config", "the hmac", "a user's role", "made by another box"])
def test_a_changed_backup_is_refused_and_nothing_changes(client, data_dir, tmp_path, change):
    _setup(client)
    raw = _backup(client)
    if change == "one byte of the config":
        assert raw.count(b'"realm": "smallpbx"') == 1
        raw = raw.replace(b'"realm": "smallpbx"', b'"realm": "smallpbY"')
    elif change == "the hmac":
        doc = json.loads(raw)
        doc["hmac"] = ("0" if doc["hmac"][0] != "0" else "1") + doc["hmac"][1:]
        raw = json.dumps(doc).encode()
    elif change == "a user's role":
        doc = json.loads(raw)
        doc["web"]["users"]["users"]["201"]["role"] = "admin"
        raw = json.dumps(doc).encode()
    else:
        other = create_app(tmp_path / "other", testing=True, control_socket=tmp_path / "none.sock").test_client()
        _setup(other)
        raw = _backup(other)
    client.post("/api/extensions", json={"number": "209"}, headers={"X-CSRFToken": token(client, "/")})
    config, users = _config(data_dir), _users(data_dir)
    response = _restore(client, raw)
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True))["file"][0].startswith("the backup was changed")
    response = client.post("/api/restore", data=raw, headers={"X-CSRFToken": token(client, "/")},
                           content_type="application/json")
    assert response.status_code == 400 and response.json["field"] == "backup"
    assert _config(data_dir) == config and _users(data_dir) == users


def test_a_backup_whose_config_is_invalid_is_refused_naming_the_field(client, data_dir):
    _setup(client)
    doc = json.loads(_backup(client))
    doc["config"]["settings"]["1"]["language"] = "fr"
    key = (data_dir / "web" / "backup_key").read_bytes()
    raw = json.dumps(box_backup.sign(doc, key)).encode()          # signed by this box: only the content is wrong
    config, users = _config(data_dir), _users(data_dir)
    response = client.post("/api/restore", data=raw, headers={"X-CSRFToken": token(client, "/")},
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json == {"error": "must be one of en, zh_CN", "field": "settings.language"}
    response = _restore(client, raw)
    assert field_errors(response.get_data(as_text=True)) == {"file": ["settings.language: must be one of en, zh_CN"]}
    # A backup without any admin would lock everyone out: refused too.
    doc["config"]["settings"]["1"]["language"] = "en"
    doc["web"]["users"]["users"] = {k: v for k, v in doc["web"]["users"]["users"].items() if v["role"] != "admin"}
    response = _restore(client, json.dumps(box_backup.sign(doc, key)).encode())
    assert field_errors(response.get_data(as_text=True)) == {"file": ["web.users: has no admin: nobody could log in"]}
    assert _restore(client, b"not json").status_code == 400
    assert _config(data_dir) == config and _users(data_dir) == users


def test_a_restore_that_fails_half_way_puts_every_file_back(app, client, data_dir, monkeypatch):
    _setup(client)
    raw = _backup(client)
    _greeting(data_dir, b"RIFF-new")
    client.post("/api/extensions", json={"number": "209", "web_login": True},
                headers={"X-CSRFToken": token(client, "/")})
    config, users, state = _config(data_dir), _users(data_dir), (data_dir / "web" / "state.json").read_bytes()
    real_write = box_backup.atomic_write_bytes

    def disk_full_at_the_greeting(path, data, *, mode=0o640):
        if path.name == "greeting.wav" and data != b"RIFF-new":
            raise OSError(28, "No space left on device")
        return real_write(path, data, mode=mode)

    monkeypatch.setattr(box_backup, "atomic_write_bytes", disk_full_at_the_greeting)
    from web.box import get_box
    with app.app_context(), pytest.raises(OSError):
        # The backup has no greeting: it is deleted last, so make the backup hold another one.
        doc = json.loads(raw)
        doc["files"] = {"prompts/custom/en/greeting.wav": "UklGRi1vbGQ="}
        key = (data_dir / "web" / "backup_key").read_bytes()
        box_backup.restore(get_box(), json.dumps(box_backup.sign(doc, key)))
    assert _config(data_dir) == config and _users(data_dir) == users
    assert (data_dir / "web" / "state.json").read_bytes() == state
    assert (data_dir / "prompts" / "custom" / "en" / "greeting.wav").read_bytes() == b"RIFF-new"


def test_a_backup_with_a_passphrase_restores_on_another_box(client, data_dir, tmp_path):
    _setup(client)
    response = post(client, "/system/backup", {"passphrase": "short"}, page="/system/")
    assert field_errors(response.get_data(as_text=True)) == {"passphrase": ["must be at least 10 characters"]}
    raw = _backup(client, "Moving-to-new-box-9")
    assert json.loads(raw)["auth"]["key"] == "passphrase"
    config = _config(data_dir)
    new_data = tmp_path / "new-box"
    new_box = create_app(new_data, testing=True, control_socket=tmp_path / "none.sock").test_client()
    create_admin(new_box, "newowner", "Another-owner-pass-3")
    before = _config(new_data)
    response = _restore(new_box, raw)
    assert field_errors(response.get_data(as_text=True)) == {"passphrase": ["this backup was made with a passphrase; "
                                                                            "type it"]}
    response = _restore(new_box, raw, "Wrong-passphrase-0")
    assert field_errors(response.get_data(as_text=True)) == {"passphrase": ["wrong passphrase, or the backup was "
                                                                            "changed"]}
    assert _config(new_data) == before
    response = _restore(new_box, raw, "Moving-to-new-box-9")
    assert response.status_code == 302
    assert _config(new_data) == config
    assert set(json.loads(_users(new_data))["users"]) == {ADMIN[0], "201", "202"}      # newowner is gone
    assert login(new_box, *ADMIN).status_code == 302


# -- roles, CSRF, language --------------------------------------------------------------------------

def test_agents_may_not_open_or_change_lines_or_system(app, client, data_dir):
    shown = _setup(client)
    raw = _backup(client)
    agent = app.test_client()
    login(agent, "201", shown["web"]["201"])
    for url in ("/lines/", "/lines/line?kind=gsm", "/lines/route", "/lines/texts", "/system/", "/api/lines",
                "/api/sms", "/api/system", "/api/backup"):
        assert agent.get(url).status_code == 403, url
    config, users = _config(data_dir), _users(data_dir)
    csrf = token(agent, "/")
    for url, data in (("/lines/save", {**GSM, "csrf_token": csrf}), ("/lines/remove", {"id": "gsm1", "csrf_token": csrf}),
                      ("/lines/texts", {"number": "1380", "text": "x", "csrf_token": csrf}),
                      ("/system/reload", {"csrf_token": csrf}), ("/system/backup", {"csrf_token": csrf}),
                      ("/system/restart", {"when": "now", "csrf_token": csrf}),
                      ("/system/restart/cancel", {"csrf_token": csrf})):
        assert agent.post(url, data=data).status_code == 403, url
    assert agent.post("/api/restore", data=raw, headers={"X-CSRFToken": csrf},
                      content_type="application/json").status_code == 403
    assert agent.put("/api/lines/gsm1", json={"device": "sim", "route": "600"},
                     headers={"X-CSRFToken": csrf}).status_code == 403
    assert _config(data_dir) == config and _users(data_dir) == users


def test_restore_and_line_changes_need_the_csrf_token(client, data_dir):
    _setup(client)
    raw = _backup(client)
    config = _config(data_dir)
    assert client.post("/api/restore", data=raw, content_type="application/json").status_code == 400
    assert client.put("/api/lines/gsm1", json={"device": "sim", "route": "600"}).status_code == 400
    assert client.post("/lines/save", data=GSM).status_code == 400
    assert _config(data_dir) == config


def test_the_pages_in_chinese(client):
    _setup(client)
    client.get("/lang/zh")
    lines = client.get("/lines/").get_data(as_text=True)
    assert "线路和中继" in lines and "呼出路由" in lines and "添加 GSM 线路" in lines
    assert "Lines and trunks" not in lines
    system = client.get("/system/").get_data(as_text=True)
    assert "备份和恢复" in system and "重新加载配置" in system and "Backup and restore" not in system
    nav = re.search(r'<nav class="main-nav">(.*?)</nav>', system, re.S).group(1)
    assert "线路" in nav and "系统" in nav
    form = client.get("/lines/line?kind=sip").get_data(as_text=True)
    assert "运营商服务器" in form and "保存后不再显示" in form


# -- the real box -----------------------------------------------------------------------------------

@pytest.mark.skipif(not (shutil.which("kamailio") or os.path.exists("/usr/sbin/kamailio")),
                    reason="kamailio is not installed (scripts/test.sh installs it)")
def test_the_lines_page_shows_a_real_lines_live_state(tmp_path):
    from firmware.sim.modem_emulator import ModemEmulator
    data = tmp_path / "data"
    client = create_app(data, testing=True).test_client()
    _setup(client)
    helpers = box_helpers()
    modem = ModemEmulator("sim7600")
    modem.start()
    box = helpers.start_box(tmp_path / "box", data=data)
    try:
        response = _save_line(client, {**GSM, "device": modem.path, "pin": "", "pcm_device": "",
                                       "power_pin": ""})
        assert response.status_code == 302, field_errors(response.get_data(as_text=True))
        assert "not running" not in client.get("/lines/").get_data(as_text=True)     # applied: the core reloaded
        deadline = time.monotonic() + 30
        page = ""
        while time.monotonic() < deadline:
            page = client.get("/lines/").get_data(as_text=True)
            if 'data-state="up"' in page:
                break
            time.sleep(0.5)
        row = re.search(r'<tr id="line-gsm1".*?</tr>', page, re.S).group(0)
        assert 'data-state="up"' in row and "working" in row and "dBm" in row, row
        assert re.search(r"<td>gsm1</td><td>working</td>", page)                     # its event
        assert client.get("/api/lines").json["lines"][0]["live"]["state"] == "up"
        # A text arrives on the SIM: the box stores it, the texts page lists it.
        modem.deliver_sms("+8613800138000", "今天开门吗?")
        deadline = time.monotonic() + 30
        while "今天开门吗?" not in client.get("/lines/texts").get_data(as_text=True):
            assert time.monotonic() < deadline, "the text never showed"
            time.sleep(0.5)
    finally:
        code = helpers.stop_box(box)
        modem.close()
    assert code == 0
    assert "Traceback" not in box.log(), box.log()[-3000:]
