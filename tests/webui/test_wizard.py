"""First boot: every page leads to the setup wizard; the wizard refuses bad
input next to the field and saves nothing; it builds a working call center;
it works once."""
from __future__ import annotations

import io
import json
import math
import struct
import wave

import pytest

from firmware.config import callcenter
from firmware.config.store import ConfigStore
from firmware.proxy.kamailio import ha1
from webtools import ADMIN, create_admin, field_errors, login, post, run_wizard, token


def _get_rules(app):
    """Every GET route, with made-up values for its arguments."""
    values = {"number": "201", "code": "zh", "extension": "201", "action": "login", "tc_id": "hours",
              "filename": "style.css"}
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods:
            yield rule.endpoint, rule.build({a: values[a] for a in rule.arguments}, append_unknown=False)[1]


def test_every_page_leads_to_the_wizard_until_an_admin_password_is_set(app, client, data_dir):
    open_anyway = {"static", "auth.language", "api.openapi", "wizard.password", "wizard.start"}
    seen = 0
    for endpoint, url in _get_rules(app):
        if endpoint in open_anyway:
            continue
        response = client.get(url)
        seen += 1
        if url.startswith("/api/"):
            assert response.status_code == 503, url
            assert response.json["setup"] == "/setup/"
        else:
            assert response.status_code == 302, url
            assert response.headers["Location"] in ("/setup/", "/setup/password"), (url, response.headers["Location"])
    assert seen >= 10
    # Following the redirects ends on the password step.
    page = client.get("/extensions/", follow_redirects=True)
    assert page.request.path == "/setup/password"
    assert 'id="step-password"' in page.get_data(as_text=True)


@pytest.mark.parametrize("password,confirm,field,expected", [
    ("short1A!", "short1A!", "password", "at least 10 characters"),
    ("aaaaabbbbbaaaaa", "aaaaabbbbbaaaaa", "password", "at least 5 different characters"),
    ("1234567890", "1234567890", "password", "most common passwords"),
    ("password123", "password123", "password", "most common passwords"),
    ("my-owner-pass-9", "my-owner-pass-9", "password", "must not contain the user name"),
    ("Tea-shop-Key-42", "Tea-shop-Key-43", "confirm", "differ"),
])
def test_wizard_refuses_weak_passwords_with_a_field_message_and_saves_nothing(client, data_dir, password, confirm,
                                                                            field, expected):
    config_before = (data_dir / "config.json").read_bytes()
    response = post(client, "/setup/password", {"username": "owner", "password": password, "confirm": confirm})
    assert response.status_code == 400
    errors = field_errors(response.get_data(as_text=True))
    assert list(errors) == [field], errors
    assert expected in errors[field][0]
    users = data_dir / "web" / "users.json"
    assert not users.exists() or json.loads(users.read_text())["users"] == {}
    assert (data_dir / "config.json").read_bytes() == config_before
    # ... and the box still has no admin: every page still leads to the wizard.
    assert client.get("/").headers["Location"] == "/setup/password"


def test_the_whole_wizard_builds_a_call_center_the_core_accepts(client, data_dir):
    shown = run_wizard(client)
    store = ConfigStore(data_dir)
    doc = store.read_document()
    center = callcenter.build(doc)                    # the core's own reading of it
    assert set(center.routes) == {"600"} and str(center.routes["600"]) == "time_condition:hours"
    assert center.queues["main"].members == ("201", "202")
    assert center.queues["main"].strategy.value == "leastrecent"
    assert center.queues["main"].ring_timeout_s == 15 and center.queues["main"].wrapup_s == 5
    assert str(center.time_conditions["hours"].open_target) == "menu:main"
    assert center.menus["main"].prompt == "welcome"
    assert store.settings()["language"] == "zh_CN"
    # SIP passwords were shown once; only their digests are stored.
    for number, password in shown["sip"].items():
        ext = next(e for e in store.extensions() if e["number"] == number)
        assert ext["ha1"] == ha1(number, "smallpbx", password)
        assert password not in (data_dir / "config.json").read_text()
    users = json.loads((data_dir / "web" / "users.json").read_text())["users"]
    assert users[ADMIN[0]]["role"] == "admin"
    assert users["201"] == {**users["201"], "role": "agent", "extension": "201"}
    for password in [ADMIN[1], *shown["web"].values()]:
        assert password not in (data_dir / "web" / "users.json").read_text()


def test_the_wizard_cannot_be_run_again(client, data_dir):
    run_wizard(client)
    users_before = (data_dir / "web" / "users.json").read_bytes()
    config_before = (data_dir / "config.json").read_bytes()
    for step in ("password", "region", "line", "extensions", "hours", "greeting", "queue"):
        response = client.get(f"/setup/{step}")
        assert response.status_code == 302 and response.headers["Location"] == "/", step
    csrf = token(client, "/")
    attempts = {
        "/setup/password": {"username": "evil", "password": "Another-pass-77", "confirm": "Another-pass-77"},
        "/setup/region": {"language": "en", "timezone": "Europe/Paris"},
        "/setup/extensions": {"number": "299", "name": "x"},
        "/setup/queue": {"name": "X", "strategy": "ringall", "ring_timeout_s": "9", "wrapup_s": "0",
                         "recording": "always", "route_number": "611"},
    }
    for url, form in attempts.items():
        response = client.post(url, data={**form, "csrf_token": csrf})
        assert response.status_code == 302 and response.headers["Location"] == "/", url
    # A new browser (no session) cannot either, and must log in for everything else.
    other = client.application.test_client()
    response = post(other, "/setup/password", {"username": "evil", "password": "Another-pass-77",
                                                "confirm": "Another-pass-77"}, page="/login")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert other.get("/").headers["Location"].startswith("/login")
    assert (data_dir / "web" / "users.json").read_bytes() == users_before
    assert (data_dir / "config.json").read_bytes() == config_before


def test_steps_cannot_be_skipped_ahead(client):
    create_admin(client)
    for step in ("line", "extensions", "hours", "greeting", "queue"):
        response = client.get(f"/setup/{step}")
        assert response.status_code == 302 and response.headers["Location"] == "/setup/resume", step
    assert client.get("/setup/resume").headers["Location"] == "/setup/region"
    # And the dashboard leads back into the wizard until it is finished.
    assert client.get("/").headers["Location"] == "/setup/resume"


def _to_step(client, step: str):
    create_admin(client)
    post(client, "/setup/region", {"language": "en", "timezone": "Europe/Berlin"})
    post(client, "/setup/line", {})
    if step == "extensions":
        return
    post(client, "/setup/extensions", {"number": "201", "name": "Ann"})
    post(client, "/setup/extensions/next", {}, page="/setup/extensions")
    if step == "hours":
        return
    post(client, "/setup/hours", {"mon": "09:00-18:00", "closed": "voicemail"})
    if step == "greeting":
        return
    post(client, "/setup/greeting", {"mode": "default"})


@pytest.mark.parametrize("form,field,expected", [
    ({"mon": "09:00-25:00"}, "mon", "not a valid time of day"),
    ({"tue": "18:00-09:00"}, "tue", "ends before it starts"),
    ({"wed": "09:00-13:00, 12:00-18:00"}, "wed", "overlap"),
    ({"fri": "nine to five"}, "fri", "not a range like"),
    ({"holidays": "2026-02-30"}, "holidays", "not a real date"),
    ({"extra_workdays": "next sunday"}, "extra_workdays", "not a date like"),
])
def test_hours_refused_next_to_the_field(client, data_dir, form, field, expected):
    _to_step(client, "hours")
    state_before = (data_dir / "web" / "state.json").read_bytes()
    response = post(client, "/setup/hours", {"closed": "announcement", **form})
    assert response.status_code == 400
    errors = field_errors(response.get_data(as_text=True))
    assert list(errors) == [field] and expected in errors[field][0], errors
    assert (data_dir / "web" / "state.json").read_bytes() == state_before


def test_queue_step_refuses_a_number_taken_by_an_extension(client, data_dir):
    _to_step(client, "queue")
    config_before = (data_dir / "config.json").read_bytes()
    response = post(client, "/setup/queue", {"name": "Sales", "strategy": "rrmemory", "members": ["201"],
                                              "ring_timeout_s": "20", "wrapup_s": "10", "recording": "never",
                                              "route_number": "201"})
    assert response.status_code == 400
    errors = field_errors(response.get_data(as_text=True))
    assert list(errors) == ["route_number"] and "already used" in errors["route_number"][0], errors
    response = post(client, "/setup/queue", {"name": "Sales", "strategy": "rrmemory", "members": ["201"],
                                              "ring_timeout_s": "1", "wrapup_s": "10", "recording": "never",
                                              "route_number": "600"})
    errors = field_errors(response.get_data(as_text=True))
    assert list(errors) == ["ring_timeout_s"], errors
    assert (data_dir / "config.json").read_bytes() == config_before
    assert not json.loads((data_dir / "web" / "state.json").read_text())["wizard"]["done"]
    # Closed -> voicemail was chosen at the hours step: the shop's mailbox comes with the queue.
    response = post(client, "/setup/queue", {"name": "销售", "strategy": "ringall", "members": ["201"],
                                              "ring_timeout_s": "20", "wrapup_s": "10", "recording": "on-demand",
                                              "route_number": "600"})
    assert response.status_code == 302
    center = callcenter.build(ConfigStore(data_dir).read_document())
    assert "shop" in center.mailboxes and str(center.time_conditions["hours"].closed_target) == "voicemail:shop"
    assert center.time_conditions["hours"].schedule.timezone == "Europe/Berlin"


def _wav_bytes(seconds: float = 0.5) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 10))) for i in range(int(16000 * seconds))))
    return buf.getvalue()


def test_greeting_upload_is_converted_and_used_by_the_menu(client, data_dir):
    _to_step(client, "greeting")
    response = post(client, "/setup/greeting", {"mode": "upload", "audio": (io.BytesIO(b"not audio"), "a.txt")},
                    content_type="multipart/form-data")
    errors = field_errors(response.get_data(as_text=True))
    assert response.status_code == 400 and list(errors) == ["audio"] and ".wav or .mp3" in errors["audio"][0]
    response = post(client, "/setup/greeting", {"mode": "upload", "audio": (io.BytesIO(_wav_bytes()), "hi.wav")},
                    content_type="multipart/form-data")
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    for lang in ("en", "zh_CN"):
        with wave.open(str(data_dir / "prompts" / "custom" / lang / "greeting.wav")) as w:
            assert (w.getframerate(), w.getnchannels()) == (8000, 1)
            assert abs(w.getnframes() - 4000) < 100
    assert client.get("/setup/greeting.wav").status_code == 200
    post(client, "/setup/queue", {"name": "Shop", "strategy": "rrmemory", "members": ["201"], "ring_timeout_s": "20",
                                  "wrapup_s": "10", "recording": "never", "route_number": "600"})
    menu = callcenter.build(ConfigStore(data_dir).read_document()).menus["main"]
    assert menu.prompt == "greeting" and menu.max_attempts == 1


def test_greeting_text_is_spoken_without_a_shell(client, data_dir):
    import shutil
    if not shutil.which("espeak-ng") or not shutil.which("sox"):
        pytest.skip("espeak-ng and sox are needed for text-to-speech")
    _to_step(client, "greeting")
    marker = data_dir / "pwned"
    text = f"Hello $(touch {marker}) `touch {marker}`; -v en --help"
    response = post(client, "/setup/greeting", {"mode": "tts", "text": text})
    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    assert not marker.exists()
    with wave.open(str(data_dir / "prompts" / "custom" / "en" / "greeting.wav")) as w:
        assert w.getframerate() == 8000 and w.getnframes() > 8000      # more than a second of speech
    response = post(client, "/setup/greeting", {"mode": "tts", "text": "   "}, page="/setup/greeting")
    assert field_errors(response.get_data(as_text=True)) == {"text": ["must not be empty"]}


def test_admin_logs_in_with_the_password_chosen_in_the_wizard(client):
    run_wizard(client)
    other = client.application.test_client()
    response = login(other, *ADMIN)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = other.get("/")
    assert page.status_code == 200 and 'data-role="admin"' in page.get_data(as_text=True)
