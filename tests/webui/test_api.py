"""The JSON API: described by /api/openapi.json, same auth as the pages,
works with the core down (says so) and with a core answering on the socket."""
from __future__ import annotations

import base64
import json
import re
import time

from firmware.config.store import ConfigStore
from firmware.proxy.kamailio import ha1
from webtools import ADMIN, add_call, create_admin, field_errors, login, post, run_wizard, token


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{" + ("id" if m.group(1) == "tc_id" else m.group(1)) + "}", rule)


def test_openapi_describes_every_api_route_and_nothing_else(app, client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            routes.setdefault(_openapi_path(rule.rule), set()).update(
                m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    described = {path: set(ops) for path, ops in spec["paths"].items()}
    assert described == routes
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op["responses"] and op["summary"], (path, method)
            params = [spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
                      for p in op.get("parameters", [])]
            names = {p["name"] for p in params}
            if method in ("post", "delete"):
                assert "X-CSRFToken" in names, (path, method)
            assert set(re.findall(r"{(\w+)}", path)) <= names, (path, method)


def test_api_needs_a_login_after_setup(app, client):
    run_wizard(client)
    anonymous = app.test_client()
    for url in ("/api/status", "/api/session", "/api/calls", "/api/extensions", "/api/panel"):
        response = anonymous.get(url)
        assert response.status_code == 401 and response.json["login"] == "/login", url


def test_status_when_the_core_is_down_comes_from_config_and_records(client, data_dir):
    run_wizard(client)
    add_call(data_dir, "x1", "201", "13800000001", time.time() - 100)
    add_call(data_dir, "x2", "", "13800000002", time.time() - 50, answered=False)
    status = client.get("/api/status").json
    assert status["core"]["reachable"] is False and "not reachable" in status["core"]["error"]
    assert [(a["extension"], a["state"]) for a in status["agents"]] == [("201", None), ("202", None)]
    assert status["queues"][0]["name"] == "Sales" and status["queues"][0]["waiting"] is None
    assert status["today"] == [{"queue": "main", "name": "Sales", "offered": 2, "answered": 1, "abandoned": 1,
                                "average_speed_of_answer_s": 8.0, "source": "records"}]
    assert status["time_conditions"] == [{"id": "hours", "override": None}]
    assert client.get("/api/panel").status_code == 503
    # The dashboard page itself renders (the script fills it from the API).
    page = client.get("/")
    assert page.status_code == 200 and 'id="core-down"' in page.get_data(as_text=True)
    # Actions that need the core say it is down, and change nothing.
    csrf = token(client, "/")
    response = client.post("/api/agents/201/login", headers={"X-CSRFToken": csrf})
    assert response.status_code == 503 and response.json["core"] == "unreachable"
    # Day/night is saved in the config even so (the core reads it when it starts).
    response = client.post("/api/time-conditions/hours/override", json={"mode": "closed"},
                           headers={"X-CSRFToken": csrf})
    assert response.status_code == 200 and response.json["applied"] is False
    assert ConfigStore(data_dir).callcenter_tables()["time_conditions"][0]["override"] == "closed"


def test_status_panel_and_actions_with_a_core(client, fake_core):
    run_wizard(client)
    status = client.get("/api/status").json
    assert status["core"]["reachable"] is True
    assert {a["extension"]: a["state"] for a in status["agents"]} == {"201": "available", "202": "on-call"}
    assert status["queues"][0]["callers"][0]["caller"] == "13900000000" and status["queues"][0]["name"] == "Sales"
    assert status["today"][0]["offered"] == 9 and status["registrations"] == ["201"]
    panel = client.get("/api/panel").json
    assert base64.b64decode(panel["png_base64"]).startswith(b"\x89PNG") and panel["leds"]["waiting"] == "fast"
    csrf = token(client, "/")
    response = client.post("/api/agents/202/logout", headers={"X-CSRFToken": csrf})
    assert response.json == {"extension": "202", "state": "logged-out"}
    response = client.post("/api/agents/299/login", headers={"X-CSRFToken": csrf})
    assert response.status_code == 409 and "not an agent" in response.json["error"]
    assert client.post("/api/agents/201/dance", headers={"X-CSRFToken": csrf}).status_code == 404
    response = client.post("/api/time-conditions/hours/override", json={"mode": "open"}, headers={"X-CSRFToken": csrf})
    assert response.json == {"id": "hours", "override": "open"}
    assert ("override", {"id": "hours", "mode": "open"}) in fake_core.requests
    assert client.post("/api/time-conditions/hours/override", json={"mode": "sideways"},
                       headers={"X-CSRFToken": csrf}).json["field"] == "mode"
    # The wizard's changes were applied with a reload.
    assert "reload" in fake_core.commands()


def test_extensions_through_the_api(client, data_dir, fake_core):
    run_wizard(client)
    csrf = client.get("/api/session").json["csrf_token"]
    headers = {"X-CSRFToken": csrf}
    response = client.post("/api/extensions", json={"number": "203", "name": "Cai", "web_login": True},
                           headers=headers)
    assert response.status_code == 201
    body = response.json
    password = body["account"]["password"]
    store = ConfigStore(data_dir)
    assert next(e for e in store.extensions() if e["number"] == "203")["ha1"] == ha1("203", "smallpbx", password)
    assert body["web_login"]["username"] == "203" and body["applied"] is True
    assert login(client.application.test_client(), "203", body["web_login"]["password"]).status_code == 302
    listing = {e["number"]: e for e in client.get("/api/extensions").json["extensions"]}
    assert listing["203"]["web_login"] == "203" and listing["201"]["registered"] is True
    assert listing["202"]["registered"] is False and listing["201"]["queues"] == ["Sales"]
    # Refusals name the field and change nothing.
    before = (data_dir / "config.json").read_bytes()
    for bad, field in (({"number": "0123"}, "extensions.0123.number"), ({"number": "203"}, "extensions.203.number"),
                       ({"number": "204", "name": 'say "hi"'}, "extensions.204.name"),
                       ({"number": 204}, "number")):
        response = client.post("/api/extensions", json=bad, headers=headers)
        assert response.status_code == 400 and response.json["field"] == field, (bad, response.json)
    assert (data_dir / "config.json").read_bytes() == before
    new = client.post("/api/extensions/203/password", headers=headers).json["account"]["password"]
    assert new != password
    assert next(e for e in store.extensions() if e["number"] == "203")["ha1"] == ha1("203", "smallpbx", new)
    # Removing a queue member takes it out of the queue and removes its web login.
    response = client.delete("/api/extensions/201", headers=headers)
    assert response.json["queues"] == ["main"] and response.json["web_logins"] == ["201"]
    assert store.callcenter_tables()["queues"][0]["members"] == ["202"]
    assert client.delete("/api/extensions/201", headers=headers).json["field"] == "extensions.201"
    assert client.delete("/api/extensions/203/web-login", headers=headers).json == {"removed": ["203"]}
    assert client.delete("/api/extensions/203/web-login", headers=headers).status_code == 404


def test_extensions_page_adds_shows_credentials_once_and_removes(client, data_dir):
    run_wizard(client, extensions=(("201", "Ann"),))
    client.get("/lang/en")
    response = post(client, "/extensions/", {"number": "205", "name": "Dong", "web_login": "y"})
    html = response.get_data(as_text=True)
    assert response.status_code == 201
    password = re.search(r'class="sip-password">([^<]+)<', html).group(1)
    assert "<svg" in html and f"Password: {password}" in html     # QR + text block for the softphone
    assert "The phone system core is not running" in html
    page = client.get("/extensions/").get_data(as_text=True)
    assert 'id="ext-205"' in page and password not in page          # shown once
    response = post(client, "/extensions/", {"number": "205", "name": "again"}, page="/extensions/")
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True)) == {"number": ["exists already"]}
    response = post(client, "/extensions/", {"number": "9", "name": ""}, page="/extensions/")
    assert field_errors(response.get_data(as_text=True)) == {"number": ["must be 2 to 6 digits, not starting with 0"]}
    response = post(client, "/extensions/205/remove", {}, page="/extensions/")
    assert response.status_code == 302
    assert [e["number"] for e in ConfigStore(data_dir).extensions()] == ["201"]
    assert "205" not in json.loads((data_dir / "web" / "users.json").read_text())["users"]


def test_a_menu_that_dials_an_extension_directly_keeps_it_from_being_removed(client, data_dir):
    run_wizard(client, extensions=(("201", "Ann"),))
    store = ConfigStore(data_dir)
    tables = store.callcenter_tables()
    tables["menus"][0]["choices"]["2"] = "extension:201"
    store.replace_callcenter(tables)
    before = (data_dir / "config.json").read_bytes()
    response = client.delete("/api/extensions/201", headers={"X-CSRFToken": token(client, "/")})
    assert response.status_code == 400 and response.json["field"] == "menus.main.choices.2"
    assert (data_dir / "config.json").read_bytes() == before


def test_session_endpoint(client):
    create_admin(client)
    info = client.get("/api/session").json
    assert info["user"] == ADMIN[0] and info["role"] == "admin" and info["setup_done"] is False
    assert info["csrf_token"]
