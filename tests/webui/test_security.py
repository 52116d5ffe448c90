"""CSRF on every state-changing route, login throttling without a username
oracle, cookie flags, file modes, roles (an agent sees only its own calls)."""
from __future__ import annotations

import json
import re
import stat
import time

import pytest

from web import create_app
from web.security import ACCESS_ATTR
from webtools import ADMIN, add_call, create_admin, login, post, run_wizard, token

ARGS = {"number": "201", "extension": "201", "action": "pause", "tc_id": "hours", "code": "zh",
        "filename": "style.css"}


def _changing_rules(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            yield method, rule.build({a: ARGS[a] for a in rule.arguments}, append_unknown=False)[1]


def _snapshot(data_dir):
    return {p.relative_to(data_dir).as_posix(): p.read_bytes()
            for p in sorted(data_dir.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


@pytest.mark.parametrize("stage", ["fresh box", "after setup, as admin", "after setup, as agent"])
def test_csrf_refused_on_every_state_changing_route(app, client, data_dir, fake_core, stage):
    if stage != "fresh box":
        shown = run_wizard(client)
        if stage.endswith("agent"):
            client.post("/logout", data={"csrf_token": token(client, "/")})
            login(client, "201", shown["web"]["201"])
    routes = list(_changing_rules(app))
    assert len(routes) >= 15, routes
    before = _snapshot(data_dir)
    asked = len(fake_core.requests)
    for method, url in routes:
        for headers in ({}, {"X-CSRFToken": "forged"}):
            response = client.open(url, method=method, headers=headers, data={"number": "299", "name": "x"})
            assert response.status_code == 400, (method, url, headers, response.status_code)
            if url.startswith("/api/"):
                assert "error" in response.json
        # A token taken from another session is refused as well.
        response = client.open(url, method=method, headers={"X-CSRFToken": _foreign_token(app)})
        assert response.status_code == 400, (method, url)
    assert _snapshot(data_dir) == before
    assert [c for c, _ in fake_core.requests[asked:] if c != "status"] == []
    # The same requests with the session's token do get through (so the 400s above came from CSRF).
    if stage == "after setup, as admin":
        response = client.post("/api/agents/201/pause", headers={"X-CSRFToken": token(client, "/")})
        assert response.status_code == 200 and response.json["state"] == "paused"


def _foreign_token(app) -> str:
    other = app.test_client()
    return token(other, "/lang/en")


def test_every_view_declares_who_may_use_it(app):
    missing = [endpoint for endpoint, view in app.view_functions.items()
               if endpoint != "static" and getattr(view, ACCESS_ATTR, None) not in ("public", "login", "admin")]
    assert missing == []
    public = sorted(e for e, v in app.view_functions.items() if getattr(v, ACCESS_ATTR, None) == "public")
    assert public == ["api.openapi", "auth.language", "auth.login", "wizard.password", "wizard.start"]


def _normalised(response, username: str) -> tuple[int, str]:
    html = response.get_data(as_text=True)
    html = re.sub(r'(name="csrf-token" content="|name="csrf_token" type="hidden" value="|name="csrf_token" '
                  r'value=")[^"]+"', r"\1TOKEN", html)
    return response.status_code, html.replace(f'value="{username}"', 'value="NAME"')


def test_unknown_and_known_users_get_the_same_answer(app, client):
    run_wizard(client)
    app.extensions["smallpbx_throttle"].max_failures = 100
    known = app.test_client()
    unknown = app.test_client()
    timings = {"known": [], "unknown": []}
    answers = {}
    for _ in range(3):
        for name, c, user in (("known", known, ADMIN[0]), ("unknown", unknown, "nosuchuser")):
            csrf = token(c, "/login")
            start = time.perf_counter()
            response = c.post("/login", data={"username": user, "password": "Wrong-password-1", "csrf_token": csrf})
            timings[name].append(time.perf_counter() - start)
            answers[name] = _normalised(response, user)
    assert answers["known"][0] == 401
    assert answers["known"] == answers["unknown"]
    assert "Wrong user name or password." in answers["known"][1]
    # Both paths pay for one scrypt: an unknown name is not noticeably faster.
    assert sorted(timings["unknown"])[1] > 0.5 * sorted(timings["known"])[1], timings


def test_login_throttling_blocks_an_address_then_lets_it_try_again(data_dir):
    app = create_app(data_dir, testing=True, control_socket=data_dir / "no.sock",
                     config={"LOGIN_MAX_FAILURES": 3, "LOGIN_BLOCK_S": 300})
    now = [1000.0]
    app.extensions["smallpbx_throttle"].clock = lambda: now[0]
    owner = app.test_client()
    run_wizard(owner)
    attacker = app.test_client()
    attacker_env = {"REMOTE_ADDR": "192.168.1.66"}
    statuses = [login(attacker, name, "Wrong-password-1", environ_base=attacker_env).status_code
                for name in (ADMIN[0], "nobody", "root")]
    assert statuses == [401, 401, 429]
    # Blocked: even the right password is refused, with the same answer for any user name.
    right = login(attacker, *ADMIN, environ_base=attacker_env)
    wrong_user = login(attacker, "ghost", "whatever-pass", environ_base=attacker_env)
    assert right.status_code == wrong_user.status_code == 429
    assert _normalised(right, ADMIN[0]) == _normalised(wrong_user, "ghost")
    assert "Too many failed logins" in right.get_data(as_text=True)
    assert attacker.get("/", environ_base=attacker_env).headers["Location"].startswith("/login")
    # Another address is not affected.
    neighbour = app.test_client()
    assert login(neighbour, *ADMIN, environ_base={"REMOTE_ADDR": "192.168.1.10"}).status_code == 302
    # After the block the right password works again, and clears the count.
    now[0] += 301
    assert login(attacker, *ADMIN, environ_base=attacker_env).status_code == 302


def test_session_cookie_flags(client):
    response = post(client, "/setup/password", {"username": "owner", "password": ADMIN[1], "confirm": ADMIN[1]})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = client.application.test_client()
    response = secure.get("/login", base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secrets_are_private_files_and_hold_no_password(client, data_dir):
    run_wizard(client)
    web = data_dir / "web"
    assert stat.S_IMODE(web.stat().st_mode) == 0o700
    for name in ("secret_key", "users.json", "state.json"):
        assert stat.S_IMODE((web / name).stat().st_mode) == 0o600, name
    assert len((web / "secret_key").read_bytes()) == 32
    users = (web / "users.json").read_text()
    assert ADMIN[1] not in users and "scrypt$" in users
    # The secret is the box's own: a second app on the same data reads it, another box has another.
    again = create_app(data_dir, testing=True)
    assert again.config["SECRET_KEY"] == (web / "secret_key").read_bytes()
    other = create_app(data_dir.parent / "other-box", testing=True)
    assert other.config["SECRET_KEY"] != again.config["SECRET_KEY"]


def test_logging_out_ends_the_session_even_for_a_copied_cookie(client):
    run_wizard(client)
    cookie = client.get_cookie("smallpbx_session").value
    client.post("/logout", data={"csrf_token": token(client, "/")})
    thief = client.application.test_client()
    thief.set_cookie("smallpbx_session", cookie)
    response = thief.get("/api/status")
    assert response.status_code == 401


def test_agent_sees_only_its_own_calls_and_status(app, client, data_dir, fake_core):
    shown = run_wizard(client)
    now = time.time()
    add_call(data_dir, "a1", "201", "13800000001", now - 600)
    add_call(data_dir, "a2", "201", "13800000002", now - 300, answered=False)
    add_call(data_dir, "b1", "202", "13900000009", now - 200)
    agent = app.test_client()
    assert login(agent, "201", shown["web"]["201"]).status_code == 302
    page = agent.get("/")
    assert page.status_code == 200 and 'data-role="agent"' in page.get_data(as_text=True)
    calls = agent.get("/api/calls").json["calls"]
    assert sorted(c["uid"] for c in calls) == ["a1", "a2"]
    assert agent.get("/api/calls?agent=201").status_code == 200
    assert agent.get("/api/calls?agent=202").status_code == 403
    status = agent.get("/api/status").json
    assert status["role"] == "agent" and status["me"]["extension"] == "201" and status["me"]["state"] == "available"
    assert "13900000009" not in json.dumps(status)                    # 202's caller
    assert {c["agent"] for c in status["calls"]} == {"201"} and set(status) == {"role", "core", "me", "today", "calls"}
    assert status["today"]["calls"] == 2 and status["today"]["answered"] == 1
    # Admin pages and data are closed to agents.
    for url in ("/extensions/", "/api/extensions", "/api/panel"):
        assert agent.get(url).status_code == 403, url
    csrf = token(agent, "/")
    assert agent.post("/api/agents/202/pause", headers={"X-CSRFToken": csrf}).status_code == 403
    assert agent.post("/extensions/", data={"csrf_token": csrf, "number": "299"}).status_code == 403
    assert agent.post("/api/time-conditions/hours/override", json={"mode": "closed"},
                      headers={"X-CSRFToken": csrf}).status_code == 403
    assert ("agent-pause", {"extension": "202", "reason": "break"}) not in fake_core.requests
    # Its own state it may change.
    response = agent.post("/api/agents/201/pause", json={"reason": "lunch"}, headers={"X-CSRFToken": csrf})
    assert response.status_code == 200 and response.json["state"] == "paused"
    assert ("agent-pause", {"extension": "201", "reason": "lunch"}) in fake_core.requests
    # The admin sees everyone's.
    assert sorted(c["uid"] for c in client.get("/api/calls").json["calls"]) == ["a1", "a2", "b1"]
    assert [c["uid"] for c in client.get("/api/calls?agent=202").json["calls"]] == ["b1"]


def test_pages_forbid_framing_and_foreign_scripts(client):
    response = client.get("/setup/password")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.get_data(as_text=True)      # no inline script anywhere


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_no_open_redirect_through_next(client, target):
    response = client.get("/lang/zh", query_string={"next": target})
    assert response.headers["Location"] == "/"
    create_admin(client)
    client.post("/logout", data={"csrf_token": token(client, "/setup/region")})
    response = login(client, *ADMIN, query_string={"next": target})
    assert response.headers["Location"] == "/"


def test_admin_password_reset_requested_by_the_box_opens_the_password_step_once(app, client, data_dir):
    shown = run_wizard(client)
    flag = data_dir / "run" / "admin-reset"
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text("")
    # The owner's session ends (the admin is gone); every page leads to the password step again.
    assert client.get("/").headers["Location"] == "/setup/password"
    assert client.get("/setup/region").headers["Location"] == "/setup/password"
    assert login(app.test_client(), *ADMIN).headers.get("Location") == "/setup/password"
    config_before = (data_dir / "config.json").read_bytes()
    response = post(client, "/setup/password", {"username": "owner2", "password": "New-owner-pass-5",
                                                 "confirm": "New-owner-pass-5"})
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    # Only the password changed; the agents keep their logins; the same flag does not reset twice.
    assert (data_dir / "config.json").read_bytes() == config_before
    assert login(app.test_client(), "201", shown["web"]["201"]).status_code == 302
    assert client.get("/extensions/").status_code == 200
    assert client.get("/setup/password").headers["Location"] == "/"
