"""Calls the box places for the owner, from the web (web/servicecalls.py):
the greeting recorded by phone at the wizard's greeting step, the test call
through a line (lines page, wizard line step) and their API. What is sent
to the core (exactly), the state followed live, refusals and a core that
is down, CSRF, agents kept out. One test records the greeting on the real
box through the web API with a pjsua2 phone."""
from __future__ import annotations

import io
import math
import os
import re
import shutil
import struct
import time
import wave

import pytest

from firmware.config import callcenter
from firmware.config.store import ConfigStore
from web import create_app
from webtools import ADMIN, FakeCore, box_helpers, create_admin, field_errors, login, post, run_wizard, token

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
STATE_BOX = re.compile(r'<p class="service-call-state[^"]*" id="(?P<id>[^"]+)"(?P<attrs>[^>]*)>(?P<text>[^<]*)</p>')


def _to_greeting(client, language: str = "zh_CN"):
    create_admin(client)
    post(client, "/setup/region", {"language": language, "timezone": "Asia/Shanghai"})
    post(client, "/setup/line", {})
    for number, name in (("201", "Ann"), ("202", "Bo")):
        post(client, "/setup/extensions", {"number": number, "name": name})
    post(client, "/setup/extensions/next", {}, page="/setup/extensions")
    r = post(client, "/setup/hours", {"mon": "09:00-18:00", "closed": "voicemail"})
    assert r.headers["Location"].endswith("/setup/greeting"), field_errors(r.get_data(as_text=True))


def _wav(path, seconds: float = 1.0, rate: int = 8000):
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 7))) for i in range(int(rate * seconds))))
    return path


def _state_box(html: str, box_id: str) -> dict:
    for m in STATE_BOX.finditer(html):
        if m.group("id") == box_id:
            attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group("attrs")))
            return {"text": m.group("text").strip(), **attrs}
    raise AssertionError(f"no state box {box_id}")


def _asked(fake_core, cmd: str) -> list[dict]:
    return [args for c, args in fake_core.requests if c == cmd]


def _with_line(client, line_id: str = "gsm1"):
    r = client.put(f"/api/lines/{line_id}", json={"device": "sim", "route": "600"},
                   headers={"X-CSRFToken": token(client, "/")})
    assert r.status_code == 201, r.json


# -- the API ------------------------------------------------------------------------------------------
def test_api_records_a_prompt_by_phone_and_reports_its_state(client, fake_core):
    run_wizard(client)
    client.get("/lang/en")
    headers = {"X-CSRFToken": token(client, "/")}
    before = len(fake_core.requests)
    r = client.post("/api/prompts/record", json={"extension": "202", "name": "greeting", "language": "zh_CN"},
                    headers=headers)
    assert r.status_code == 202, r.json
    job = r.json
    assert _asked(fake_core, "record-prompt") == [{"extension": "202", "name": "greeting", "language": "zh_CN"}]
    assert (job["kind"], job["target"], job["state"], job["finished"], job["ok"]) == (
        "record-prompt", "202", "calling", False, False)
    assert job["label"] == "The box is calling …"
    seen = []
    while not seen or not seen[-1]["finished"]:
        r = client.get(f"/api/service-calls/{job['id']}")
        assert r.status_code == 200 and len(seen) < 10
        seen.append(r.json)
    assert [(s["state"], s["label"]) for s in seen] == [
        ("recording", "Recording: speak after the beep, then press # or hang up."),
        ("saving", "Saving the recording …"), ("saved", "Saved.")]
    assert seen[-1]["ok"] is True
    assert fake_core.requests[before:] == [("record-prompt", {"extension": "202", "name": "greeting",
                                                              "language": "zh_CN"})] + [("service-call", {"id": job["id"]})] * 3
    # Refused here, naming the field; the core is not asked.
    asked = len(fake_core.requests)
    for body, field in (({"extension": "202", "name": "../evil", "language": "en"}, "name"),
                        ({"extension": "202", "name": "greeting", "language": "fr"}, "language"),
                        ({"extension": "299", "name": "greeting", "language": "en"}, "extension"),
                        ({"extension": 202, "name": "greeting", "language": "en"}, "extension")):
        r = client.post("/api/prompts/record", json=body, headers=headers)
        assert r.status_code == 400 and r.json["field"] == field, (body, r.json)
    assert fake_core.requests[asked:] == []
    assert client.get("/api/service-calls/record-prompt-99").status_code == 404
    # The core's refusal, translated.
    fake_core.refuse["record-prompt"] = "all call slots are in use"
    client.get("/lang/zh")
    r = client.post("/api/prompts/record", json={"extension": "201", "name": "greeting", "language": "en"},
                    headers=headers)
    assert r.status_code == 409 and r.json == {"error": "所有通话通道都在使用中", "core": "refused"}


def test_api_test_call_through_a_line(client, fake_core):
    run_wizard(client)
    client.get("/lang/en")
    _with_line(client)
    headers = {"X-CSRFToken": token(client, "/")}
    r = client.post("/api/lines/gsm1/test-call", json={"number": "138 0013 8000"}, headers=headers)
    assert r.status_code == 202, r.json
    assert _asked(fake_core, "test-call") == [{"line": "gsm1", "number": "13800138000"}]
    job = r.json
    assert (job["kind"], job["line"], job["target"]) == ("test-call", "gsm1", "13800138000")
    states = [client.get(f"/api/service-calls/{job['id']}").json for _ in range(3)]
    assert [s["state"] for s in states] == ["playing", "done", "done"]
    assert states[1]["finished"] and states[1]["ok"]
    assert states[1]["label"] == "Done: the line called out and the box's voice went through."
    # A failed call says why.
    fake_core.scripts["test-call"] = ["calling", "failed: not answered (408)"]
    job = client.post("/api/lines/gsm1/test-call", json={"number": "+8613800138000"}, headers=headers).json
    failed = client.get(f"/api/service-calls/{job['id']}").json
    assert failed["finished"] and not failed["ok"] and failed["label"] == "Failed: not answered (408)"
    asked = len(fake_core.requests)
    r = client.post("/api/lines/gsm9/test-call", json={"number": "13800138000"}, headers=headers)
    assert r.status_code == 404 and r.json["field"] == "lines.gsm9"
    for number in ("", "call me", "138+00", "1" * 33, 13800138000):
        r = client.post("/api/lines/gsm1/test-call", json={"number": number}, headers=headers)
        assert r.status_code == 400 and r.json["field"] == "number", number
    assert fake_core.requests[asked:] == []
    fake_core.refuse["test-call"] = "line gsm1 is down"
    client.get("/lang/zh")
    r = client.post("/api/lines/gsm1/test-call", json={"number": "13800138000"}, headers=headers)
    assert r.status_code == 409 and r.json["error"] == "线路 gsm1 现在不能使用（故障）"


def test_api_says_when_the_core_is_down(client):
    run_wizard(client)
    client.get("/lang/en")
    _with_line(client)
    headers = {"X-CSRFToken": token(client, "/")}
    for r in (client.post("/api/prompts/record", json={"extension": "201", "name": "greeting", "language": "en"},
                          headers=headers),
              client.post("/api/lines/gsm1/test-call", json={"number": "13800138000"}, headers=headers),
              client.get("/api/service-calls/test-call-1")):
        assert r.status_code == 503 and r.json["core"] == "unreachable", r.json
        assert r.json["error"] == "The phone system core is not running: the box cannot place calls now."


# -- the wizard's greeting step -----------------------------------------------------------------------
def test_wizard_records_the_greeting_by_phone(client, data_dir, fake_core):
    _to_greeting(client)                                   # the box speaks Chinese
    client.get("/lang/en")
    page = client.get("/setup/greeting").get_data(as_text=True)
    assert 'value="phone"' in page and 'id="phone-core-down"' not in page
    assert re.search(r'<option value="201">201 Ann</option>\s*<option value="202">202 Bo</option>', page)
    assert re.search(r'<button type="submit" id="call-me" formaction="/setup/greeting/call"[^>]*>', page)
    assert "disabled" not in re.search(r'<button[^>]*id="call-me"[^>]*>', page).group(0)
    assert 'src="/static/servicecalls.js"' in page and "<script>" not in page
    # The page's script asks for JSON; the job is recorded in the box's language, under the greeting's name.
    fake_core.scripts["record-prompt"] = ["calling", "recording"]         # the owner is still talking
    r = post(client, "/setup/greeting/call", {"extension": "202"}, page="/setup/greeting", headers=JSON)
    assert r.status_code == 202 and r.json["state"] == "calling"
    assert _asked(fake_core, "record-prompt") == [{"extension": "202", "name": "greeting", "language": "zh_CN"}]
    job_id = r.json["id"]
    # Reloaded, the page follows the same call (and the owner cannot go on while it lasts).
    page = client.get("/setup/greeting").get_data(as_text=True)
    box = _state_box(page, "greeting-call-state")
    assert box["data-job"] == job_id and box["data-finished"] == "no" and box["data-audio"] == "greeting-audio"
    assert box["data-poll"] == "/api/service-calls/JOB"
    assert 'value="phone" checked' in page or re.search(r'checked[^>]*value="phone"', page)
    r = post(client, "/setup/greeting", {"mode": "phone", "extension": "202"})
    assert field_errors(r.get_data(as_text=True)) == {
        "mode": ["The call is not over yet: wait until the recording is saved."]}
    # The core saves it (as firmware/core/service_calls.py does: into custom/<language>/greeting.wav).
    fake_core.scripts["record-prompt"] = ["calling", "recording", "saving", "saved"]
    _wav(data_dir / "prompts" / "custom" / "zh_CN" / "greeting.wav", 1.5)
    assert client.get(f"/api/service-calls/{job_id}").json["state"] == "saving"
    assert client.get(f"/api/service-calls/{job_id}").json["state"] == "saved"
    audio = client.get("/setup/greeting.wav")
    assert audio.status_code == 200 and audio.mimetype == "audio/wav" and audio.data.startswith(b"RIFF")
    # Save and continue: installed for the other language too, the menu plays it.
    assert not (data_dir / "prompts" / "custom" / "en" / "greeting.wav").exists()
    r = post(client, "/setup/greeting", {"mode": "phone", "extension": "202"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/setup/queue"), \
        field_errors(r.get_data(as_text=True))
    with wave.open(str(data_dir / "prompts" / "custom" / "en" / "greeting.wav")) as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1) and abs(w.getnframes() - 12000) < 100
    post(client, "/setup/queue", {"name": "Shop", "strategy": "rrmemory", "members": ["201"], "ring_timeout_s": "20",
                                  "wrapup_s": "10", "recording": "never", "route_number": "600"})
    assert callcenter.build(ConfigStore(data_dir).read_document()).menus["main"].prompt == "greeting"


def test_greeting_by_phone_without_the_script_and_when_it_fails(client, data_dir, fake_core):
    _to_greeting(client, language="en")
    client.get("/lang/zh")
    # A plain form post goes back to the page, which shows the call's state.
    r = post(client, "/setup/greeting/call", {"extension": "201", "mode": "phone"}, page="/setup/greeting",
             headers=HTML)
    assert r.status_code == 302 and r.headers["Location"] == "/setup/greeting"
    assert _asked(fake_core, "record-prompt") == [{"extension": "201", "name": "greeting", "language": "en"}]
    fake_core.scripts["record-prompt"] = ["calling", "failed: hung up before the beep"]
    page = client.get("/setup/greeting").get_data(as_text=True)
    box = _state_box(page, "greeting-call-state")
    assert box["text"] == "失败：提示音之前就挂机了" and box["data-finished"] == "yes"
    assert "error" in re.search(r'<p class="service-call-state[^"]*"', page).group(0)
    assert 'id="greeting-player" hidden' in page                      # nothing recorded: no player
    r = post(client, "/setup/greeting", {"mode": "phone", "extension": "201"})
    assert field_errors(r.get_data(as_text=True)) == {"mode": ["上一次呼叫没有录到任何内容：请再呼叫一次，或选择其他方式。"]}
    # Refused by the page (no such extension) or by the core: said, in JSON or on the page.
    asked = len(fake_core.requests)
    r = post(client, "/setup/greeting/call", {"extension": "299"}, page="/setup/greeting", headers=JSON)
    assert r.status_code == 400 and r.json == {"error": "没有这个分机", "field": "extension"}
    assert _asked(fake_core, "record-prompt")[asked:] == [] and len(_asked(fake_core, "record-prompt")) == 1
    fake_core.refuse["record-prompt"] = "extension '201' does not exist"
    r = post(client, "/setup/greeting/call", {"extension": "201"}, page="/setup/greeting", headers=JSON)
    assert r.status_code == 409 and r.json == {"error": "分机 201 不存在"}
    r = post(client, "/setup/greeting/call", {"extension": "201"}, page="/setup/greeting", headers=HTML)
    assert r.headers["Location"] == "/setup/greeting"
    assert "分机 201 不存在" in client.get("/setup/greeting").get_data(as_text=True)


def test_greeting_step_with_the_core_down_keeps_the_other_ways(client, data_dir):
    _to_greeting(client, language="en")
    client.get("/lang/en")
    page = client.get("/setup/greeting").get_data(as_text=True)
    assert 'id="phone-core-down"' in page and "the box cannot call you now" in page
    assert "disabled" in re.search(r'<button[^>]*id="call-me"[^>]*>', page).group(0)
    r = post(client, "/setup/greeting/call", {"extension": "201"}, page="/setup/greeting", headers=JSON)
    assert r.status_code == 503
    assert r.json == {"error": "The phone system core is not running: the box cannot place calls now."}
    r = post(client, "/setup/greeting", {"mode": "phone", "extension": "201"})
    assert field_errors(r.get_data(as_text=True)) == {
        "mode": ["Nothing is recorded yet: let the box call you, speak after the beep, then press #."]}
    # An upload still works.
    wav = _wav(data_dir.parent / "hello.wav", 0.5, rate=16000)
    r = post(client, "/setup/greeting", {"mode": "upload", "audio": (io.BytesIO(wav.read_bytes()), "hello.wav")},
             page="/setup/greeting", content_type="multipart/form-data")
    assert r.status_code == 302 and r.headers["Location"].endswith("/setup/queue"), \
        field_errors(r.get_data(as_text=True))
    assert (data_dir / "prompts" / "custom" / "en" / "greeting.wav").exists()


# -- the lines page and the wizard's line step ----------------------------------------------------------
def test_lines_page_test_call(client, fake_core):
    run_wizard(client)
    client.get("/lang/en")
    _with_line(client)
    page = client.get("/lines/").get_data(as_text=True)
    assert 'id="card-test-call"' in page and '<option value="gsm1">gsm1</option>' in page
    assert 'id="test-call-core-down"' not in page and 'src="/static/servicecalls.js"' in page
    r = post(client, "/lines/test-call", {"line": "gsm1", "number": "+86 138-0013-8000"}, page="/lines/",
             headers=JSON)
    assert r.status_code == 202 and r.json["state"] == "calling"
    assert _asked(fake_core, "test-call") == [{"line": "gsm1", "number": "+8613800138000"}]
    box = _state_box(client.get("/lines/").get_data(as_text=True), "test-call-state")
    assert box["data-job"] == r.json["id"] and box["text"] == "Answered: the box plays its test message."
    # Without the script: back to the page (or to the wizard's line step, never elsewhere).
    for next_url, back in (("", "/lines/"), ("/setup/line", "/setup/line"), ("//evil.example/", "/lines/")):
        r = post(client, "/lines/test-call", {"line": "gsm1", "number": "13800138000", "next": next_url},
                 page="/lines/", headers=HTML)
        assert r.status_code == 302 and r.headers["Location"] == back
    asked = len(_asked(fake_core, "test-call"))
    r = post(client, "/lines/test-call", {"line": "gsm1", "number": "mobile"}, page="/lines/", headers=JSON)
    assert r.status_code == 400 and r.json["field"] == "number"
    r = post(client, "/lines/test-call", {"line": "gsm7", "number": "13800138000"}, page="/lines/", headers=JSON)
    assert r.status_code == 400 and r.json == {"error": "no such line", "field": "line"}
    assert len(_asked(fake_core, "test-call")) == asked
    fake_core.refuse["test-call"] = "line gsm1 is in a call"
    r = post(client, "/lines/test-call", {"line": "gsm1", "number": "13800138000"}, page="/lines/", headers=JSON)
    assert r.status_code == 409 and r.json == {"error": "line gsm1 is in a call"}


def test_lines_page_test_call_with_the_core_down(client):
    run_wizard(client)
    client.get("/lang/en")
    _with_line(client)
    page = client.get("/lines/").get_data(as_text=True)
    assert 'id="test-call-core-down"' in page
    assert "disabled" in re.search(r'<button[^>]*id="test-call"[^>]*>', page).group(0)
    r = post(client, "/lines/test-call", {"line": "gsm1", "number": "13800138000"}, page="/lines/", headers=HTML)
    assert r.headers["Location"] == "/lines/"
    assert "the box cannot place calls now" in client.get("/lines/").get_data(as_text=True)


def test_wizard_line_step_offers_the_test_call_only_for_a_line_the_box_uses(client, data_dir, fake_core):
    create_admin(client)
    post(client, "/setup/region", {"language": "en", "timezone": "Asia/Shanghai"})
    page = client.get("/setup/line").get_data(as_text=True)
    assert 'id="test-call-card"' not in page                       # no line: nothing to test
    r = post(client, "/setup/line", {"choice": "sim"})
    assert r.status_code == 302
    # Saved in the draft only (written at the last step): still explained, not offered.
    page = client.get("/setup/line").get_data(as_text=True)
    assert 'id="test-call-later"' in page and 'id="test-call-form"' not in page
    # A line the box already runs (in the config) can be tested from here.
    store = ConfigStore(data_dir)
    tables = store.callcenter_tables()
    tables["routes"] = [{"number": "700", "target": "hangup"}]
    tables["lines"] = [{"id": "gsm9", "kind": "gsm", "device": "sim", "route": "700"}]
    store.replace_callcenter(tables)
    page = client.get("/setup/line").get_data(as_text=True)
    assert 'id="test-call-form"' in page and 'name="next" value="/setup/line"' in page
    r = post(client, "/lines/test-call", {"line": "gsm9", "number": "13800138000", "next": "/setup/line"},
             page="/setup/line", headers=HTML)
    assert r.headers["Location"] == "/setup/line"
    assert _asked(fake_core, "test-call") == [{"line": "gsm9", "number": "13800138000"}]
    assert _state_box(client.get("/setup/line").get_data(as_text=True), "test-call-state")["data-finished"] == "no"


# -- CSRF and roles ---------------------------------------------------------------------------------------
def test_csrf_is_required_and_agents_are_kept_out(app, client, fake_core):
    shown = run_wizard(client)
    _with_line(client)
    starts = (("/api/prompts/record", {"json": {"extension": "201", "name": "greeting", "language": "en"}}),
              ("/api/lines/gsm1/test-call", {"json": {"number": "13800138000"}}),
              ("/lines/test-call", {"data": {"line": "gsm1", "number": "13800138000"}}))
    for url, body in starts:
        for headers in ({}, {"X-CSRFToken": "forged"}):
            assert client.post(url, headers={**headers, **JSON}, **body).status_code == 400, url
    assert _asked(fake_core, "record-prompt") == _asked(fake_core, "test-call") == []
    agent = app.test_client()
    asked = len(fake_core.requests)
    assert login(agent, "201", shown["web"]["201"]).status_code == 302
    csrf = {"X-CSRFToken": token(agent, "/"), **JSON}
    for url, body in starts:
        assert agent.post(url, headers=csrf, **body).status_code == 403, url
    assert agent.get("/api/service-calls/test-call-1").status_code == 403
    assert agent.get("/lines/").status_code == 403
    assert [c for c, _ in fake_core.requests[asked:] if c != "status"] == []


def test_wizard_greeting_call_needs_the_csrf_token(client, fake_core):
    _to_greeting(client, language="en")
    r = client.post("/setup/greeting/call", data={"extension": "201"}, headers=JSON)
    assert r.status_code == 400
    r = client.post("/setup/greeting/call", data={"extension": "201", "csrf_token": "forged"}, headers=JSON)
    assert r.status_code == 400
    assert _asked(fake_core, "record-prompt") == []
    assert post(client, "/setup/greeting/call", {"extension": "201"}, page="/setup/greeting",
                headers=JSON).status_code == 202


# -- the page's script, in a browser ------------------------------------------------------------------------
def test_the_greeting_page_follows_the_call_live_in_a_browser(tmp_path):
    """static/servicecalls.js: starts the call, polls its state until saved, then plays the new greeting."""
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("/usr/bin/chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    import threading

    from web.server import make_server, stop
    data = tmp_path / "data"
    _to_greeting(create_app(data, testing=True).test_client())
    core = FakeCore(data / "run" / "core.sock")
    core.server.start()
    server = make_server(data, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    try:
        with sync_api.sync_playwright() as p:
            try:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            except Exception as exc:       # noqa: BLE001 - any launch failure is a reason to skip
                pytest.skip(f"chromium cannot start here: {exc}")
            page = browser.new_page(locale="en-US")
            page.set_default_timeout(10000)
            errors = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(base + "/login")
            page.fill("#username", ADMIN[0])
            page.fill("#password", ADMIN[1])
            page.click("button[type=submit]")
            page.goto(base + "/setup/greeting")
            assert page.locator("#phone-field").is_hidden()
            page.check('input[name="mode"][value="phone"]')
            assert page.locator("#phone-field").is_visible() and page.locator("#greeting-player").is_hidden()
            page.select_option("#extension", "202")
            _wav(data / "prompts" / "custom" / "zh_CN" / "greeting.wav", 1.0)     # what the core will save
            page.click("#call-me")
            state = page.locator("#greeting-call-state")
            page.locator('#greeting-call-state[data-state="saved"]').wait_for()
            assert state.inner_text() == "Saved." and "ok" in state.get_attribute("class")
            assert page.locator("#greeting-player").is_visible()
            assert re.fullmatch(r"/setup/greeting\.wav\?v=\d+",
                                page.locator("#greeting-audio").get_attribute("src"))
            assert not page.locator("#call-me").is_disabled()
            states = [a.get("id") for c, a in core.requests if c == "service-call"]
            assert core.requests[[c for c, _ in core.requests].index("record-prompt")] == (
                "record-prompt", {"extension": "202", "name": "greeting", "language": "zh_CN"})
            assert states.count("record-prompt-1") >= 3                   # polled until saved
            page.click("#next")
            page.wait_for_url(base + "/setup/queue")
            browser.close()
            assert errors == []
    finally:
        stop(server)
        thread.join(5)
        core.server.close()
    assert (data / "prompts" / "custom" / "en" / "greeting.wav").exists()


# -- the real box ---------------------------------------------------------------------------------------
@pytest.mark.skipif(not (shutil.which("kamailio") or os.path.exists("/usr/sbin/kamailio")),
                    reason="kamailio is not installed (scripts/test.sh installs it)")
def test_owner_records_the_greeting_by_phone_through_the_web_api(tmp_path):
    from audio import found_anywhere, noise_signal, read_wav, write_wav
    helpers = box_helpers()
    data = tmp_path / "data"
    client = create_app(data, testing=True).test_client()
    shown = run_wizard(client)
    box = helpers.start_box(tmp_path / "box", data=data)
    try:
        speech = noise_signal(4, seed=82)
        phone = box.phone("201", "--answer", "--wait", "20", "--duration", "6",
                          "--play", str(write_wav(tmp_path / "said.wav", speech)),
                          password=shown["sip"]["201"], background=True)
        helpers.wait_for_event(phone, "ready")
        target = data / "prompts" / "custom" / "zh_CN" / "greeting.wav"
        assert not target.exists()
        r = client.post("/api/prompts/record", json={"extension": "201", "name": "greeting", "language": "zh_CN"},
                        headers={"X-CSRFToken": token(client, "/")})
        assert r.status_code == 202, r.json
        states, deadline = [r.json["state"]], time.monotonic() + 40
        while not r.json["finished"] and time.monotonic() < deadline:
            time.sleep(0.3)
            r = client.get(f"/api/service-calls/{r.json['id']}")
            assert r.status_code == 200, r.json
            if r.json["state"] != states[-1]:
                states.append(r.json["state"])
        assert states[-1] == "saved", states
        assert "recording" in states, states
        assert helpers.finish_phone(phone).last("done")["answered"]
        recorded = read_wav(target)
        assert found_anywhere(speech, recorded, 1, seconds=2) > 0.7, "the recording is not what the owner said"
    finally:
        assert helpers.stop_box(box) == 0
    assert "Traceback" not in box.log(), box.log()[-3000:]
