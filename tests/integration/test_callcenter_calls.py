"""The call center with real phones: menu by DTMF, queue, agent, audio, records.

Callers and agents are separate pjsua2 processes registered through
Kamailio; the caller presses digits (RFC 2833), waits in the queue and is
bridged to an agent; audio is checked both ways against the signals each
side played, and the call record and live numbers against what happened.
"""
import json
import sqlite3
import time

import pytest

from audio import best_correlation, found_anywhere, noise_signal, read_wav, write_wav
from boxtools import DEFAULT_EXTENSIONS, finish_phone, run_cli, start_box, stop_box, wait_for_event, wait_until

AGENTS = {"201": "Agent-one-pass", "202": "Agent-two-pass", "203": "Agent-three-pw"}
TABLES = {
    "routes": [{"number": "600", "target": "menu:main"}, {"number": "700", "target": "queue:sales"},
               {"number": "601", "target": "menu:quick"}, {"number": "900", "target": "voicemail:101"}],
    "menus": [{"id": "main", "prompt": "welcome", "choices": {"1": "queue:sales"}, "operator": "queue:sales",
               "timeout_s": 4},
              {"id": "quick", "prompt": "beep", "choices": {"1": "hangup"}, "operator": "queue:sales",
               "timeout_s": 1, "timeout_prompt": "beep", "invalid_prompt": "beep", "direct_dial": False}],
    "queues": [{"id": "sales", "members": ["201", "202", "203"], "strategy": "rrmemory",
                "ring_timeout_s": 6, "retry_s": 1, "wrapup_s": 1, "autopause_after": 2,
                "failover": "hangup", "join_empty": False}],
}


@pytest.fixture(scope="module")
def ccbox(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ccbox")
    box = start_box(tmp, {**DEFAULT_EXTENSIONS, **AGENTS})
    tables = tmp / "callcenter.json"
    tables.write_text(json.dumps(TABLES))
    run_cli(box.data, "callcenter", "load", str(tables))
    yield box
    code = stop_box(box)
    log = box.log()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log and "Aborted" not in log, log[-5000:]


def _records(box):
    db = sqlite3.connect(box.data / "records.db")
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM calls ORDER BY id")]
    db.close()
    return rows


def _agent(box, ext, *args, **kw):
    return box.phone(ext, "--answer", "--wait", "60", *args, background=True, **kw)


def test_caller_navigates_menu_queues_and_talks_to_an_agent(ccbox, tmp_path):
    box = ccbox
    assert "available" in box.cli("agent", "login", "201").stdout
    sig_caller, sig_agent = noise_signal(12, seed=31), noise_signal(4, seed=32)
    agent = _agent(box, "201", "--play", str(write_wav(tmp_path / "agent.wav", sig_agent)),
                   "--record", str(tmp_path / "agent_heard.wav"), "--duration", "5")
    wait_for_event(agent, "ready")
    caller = box.phone("101", "--call", f"sip:600@{box.proxy}", "--dtmf", "1", "--dtmf-delay", "1.5",
                       "--play", str(write_wav(tmp_path / "caller.wav", sig_caller)),
                       "--record", str(tmp_path / "caller_heard.wav"), "--duration", "9", "--wait", "20")
    agent_result = finish_phone(agent)
    assert caller.last("done")["answered"] and agent_result.last("done")["answered"]
    # The caller heard the welcome prompt and hold music, then the agent from the
    # moment of the bridge; the agent heard the caller from then on.
    caller_got = read_wav(tmp_path / "caller_heard.wav")
    agent_got = read_wav(tmp_path / "agent_heard.wav")
    assert found_anywhere(sig_agent, caller_got, 0) > 0.7, "caller did not hear the agent"
    assert found_anywhere(sig_caller, agent_got, 0) > 0.7, "agent did not hear the caller"
    assert best_correlation(noise_signal(2, seed=99), agent_got, max_lag_s=5)[0] < 0.3
    [rec] = wait_until(lambda: [r for r in _records(box) if r["caller"] == "101"], 10, "the call record")
    assert rec["queue"] == "sales" and rec["agent"] == "201" and rec["disposition"] == "answered"
    assert json.loads(rec["ivr_choices"]) == ["1"] and rec["route"] == "menu:main"
    assert rec["talk_s"] > 1 and rec["wait_s"] >= 0
    today = box.status()["callcenter"]["today"][0]
    assert (today["offered"], today["answered"], today["abandoned"]) == (1, 1, 0)
    box.cli("agent", "logout", "201")


def _load(box, tmp_path, **queue_changes):
    tables = json.loads(json.dumps(TABLES))
    tables["queues"][0].update(queue_changes)
    path = tmp_path / "tables.json"
    path.write_text(json.dumps(tables))
    run_cli(box.data, "callcenter", "load", str(path))


def _login_only(box, *extensions):
    for ext in AGENTS:
        state = box.status()["callcenter"]["agents"]
        current = next((a["state"] for a in state if a["extension"] == ext), "logged-out")
        if ext in extensions and current == "logged-out":
            box.cli("agent", "login", ext)
        elif ext not in extensions and current != "logged-out":
            box.cli("agent", "logout", ext)


def _one_agent_ready(box, tmp_path, extension):
    """Round-robin queue with only ``extension`` logged in, its phone waiting to answer."""
    _load(box, tmp_path, strategy="rrmemory", wrapup_s=0)
    _login_only(box, extension)
    agent = _agent(box, extension, "--duration", "30")
    wait_for_event(agent, "ready")
    return agent, len(_records(box))


def _call_queue(box, caller="102", seconds=2.5, **kw):
    return box.phone(caller, "--call", f"sip:700@{box.proxy}", "--duration", str(seconds), "--wait", "25", **kw)


def _new_records(box, before, count=1):
    """The records written since ``before``, once there are ``count`` of them:
    the core writes a call's record as the call ends, not before the phone exits."""
    def enough():
        rows = _records(box)[before:]
        return rows if len(rows) >= count else None
    return wait_until(enough, 10, f"{count} new call records")


def test_round_robin_spreads_successive_calls_over_three_agents(ccbox, tmp_path):
    box = ccbox
    _load(box, tmp_path, strategy="rrmemory", wrapup_s=0)
    _login_only(box, "201", "202", "203")
    before = len(_records(box))
    agents = {ext: _agent(box, ext, "--duration", "30") for ext in AGENTS}
    for proc in agents.values():
        wait_for_event(proc, "ready")
    for _ in range(3):
        assert _call_queue(box).last("done")["answered"]
        time.sleep(0.5)
    for proc in agents.values():
        finish_phone(proc)
    served = [r["agent"] for r in _new_records(box, before, 3)]
    assert sorted(served) == ["201", "202", "203"], served


def test_longest_idle_skips_the_agent_in_wrap_up(ccbox, tmp_path):
    box = ccbox
    _load(box, tmp_path, strategy="leastrecent", wrapup_s=6)
    _login_only(box)                   # everyone out, then in, in a known order
    for ext in ("202", "201", "203"):  # idle since: 202 first, then 201, then 203
        box.cli("agent", "login", ext)
        time.sleep(0.2)
    before = len(_records(box))
    agents = {ext: _agent(box, ext, "--duration", "30") for ext in AGENTS}
    for proc in agents.values():
        wait_for_event(proc, "ready")
    assert _call_queue(box, seconds=1.5).last("done")["answered"]      # 202: idle longest
    assert _call_queue(box, seconds=1.5).last("done")["answered"]      # 201: 202 is in wrap-up
    time.sleep(6.5)                                                    # 202's wrap-up is over
    assert _call_queue(box, seconds=1.5).last("done")["answered"]      # 203: idle since login
    for proc in agents.values():
        finish_phone(proc)
    assert [r["agent"] for r in _new_records(box, before, 3)] == ["202", "201", "203"]


def test_agent_who_does_not_answer_is_skipped_then_paused(ccbox, tmp_path):
    box = ccbox
    # leastrecent with 201 logged in first: 201 is offered first both times
    # (a miss does not reset its idle time), 202 takes the calls.
    _load(box, tmp_path, strategy="leastrecent", wrapup_s=0, ring_timeout_s=4, autopause_after=2)
    _login_only(box)
    box.cli("agent", "login", "201")
    time.sleep(0.1)
    box.cli("agent", "login", "202")
    before = len(_records(box))
    sleeper = box.phone("201", "--answer", "--ring-only", "--wait", "40", background=True)
    worker = _agent(box, "202", "--duration", "30", "--wait", "40")
    wait_for_event(sleeper, "ready")
    wait_for_event(worker, "ready")
    first = _call_queue(box, seconds=8)      # 201 rings 4 s, then 202 answers
    assert first.last("done")["answered"]
    worker.kill()
    worker.wait()
    worker2 = _agent(box, "202", "--duration", "30", "--wait", "40")
    wait_for_event(worker2, "ready")
    second = _call_queue(box, seconds=8)
    assert second.last("done")["answered"]
    finish_phone(worker2)
    sleeper_result = finish_phone(sleeper)
    records = _new_records(box, before)
    assert [r["agent"] for r in records] == ["202", "202"]
    for record in records:
        offers = [(o["agent"], o["outcome"]) for o in json.loads(record["offers"])]
        assert offers == [("201", "noanswer"), ("202", "answered")], offers
    agents = {a["extension"]: a for a in box.status()["callcenter"]["agents"]}
    assert agents["201"]["state"] == "paused" and agents["201"]["pause_reason"] == "no-answer"
    assert sleeper_result.last("rang")["count"] >= 2
    box.cli("agent", "unpause", "201")


def test_caller_hanging_up_while_waiting_is_abandoned_and_counted(ccbox, tmp_path):
    box = ccbox
    _load(box, tmp_path, strategy="rrmemory", ring_timeout_s=20)
    _login_only(box, "203")
    sleeper = box.phone("203", "--answer", "--ring-only", "--wait", "12", background=True)
    wait_for_event(sleeper, "ready")
    before_today = next(q for q in box.status()["callcenter"]["today"] if q["queue"] == "sales")
    before = len(_records(box))
    result = _call_queue(box, seconds=3)     # hangs up after 3 s, still waiting
    assert result.last("done")["answered"]   # the box answered to play hold music
    finish_phone(sleeper)
    [rec] = _new_records(box, before)
    assert rec["disposition"] == "abandoned-in-queue" and rec["agent"] == ""
    assert 2 <= rec["wait_s"] <= 5
    after_today = next(q for q in box.status()["callcenter"]["today"] if q["queue"] == "sales")
    assert after_today["abandoned"] == before_today["abandoned"] + 1
    assert after_today["offered"] == before_today["offered"] + 1
    assert after_today["answered"] == before_today["answered"]


def test_three_wrong_keys_reach_a_person(ccbox, tmp_path):
    box = ccbox
    agent, before = _one_agent_ready(box, tmp_path, "201")
    caller = box.phone("103", "--call", f"sip:600@{box.proxy}", "--dtmf", "7 8 9", "--dtmf-delay", "1",
                       "--dtmf-gap", "3.5", "--duration", "16", "--wait", "25")
    assert caller.last("done")["answered"]
    assert finish_phone(agent).last("done")["answered"], "the caller never reached a person"
    [rec] = _new_records(box, before)
    assert json.loads(rec["ivr_choices"]) == ["7", "8", "9"]
    assert rec["agent"] == "201" and rec["disposition"] == "answered"


def _stereo(path):
    import numpy as np
    import wave
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (2, 8000, 2)
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float) / 32768
    return data[0::2], data[1::2]


def test_recorded_call_holds_caller_left_and_agent_right(ccbox, tmp_path):
    box = ccbox
    _load(box, tmp_path, strategy="rrmemory", wrapup_s=0, recording="always")
    _login_only(box, "202")
    sig_caller, sig_agent = noise_signal(12, seed=41), noise_signal(12, seed=42)
    agent = _agent(box, "202", "--play", str(write_wav(tmp_path / "agent.wav", sig_agent)), "--duration", "30")
    wait_for_event(agent, "ready")
    before = len(_records(box))
    caller = box.phone("101", "--call", f"sip:700@{box.proxy}", "--duration", "6", "--wait", "25",
                       "--play", str(write_wav(tmp_path / "caller.wav", sig_caller)))
    assert caller.last("done")["answered"]
    finish_phone(agent)
    [rec] = wait_until(lambda: _new_records(box, before), 10, "the call record")
    assert rec["recording"], rec
    path = box.data / "recordings" / rec["recording"]
    # The two parts are merged in the background once both legs have closed.
    wait_until(lambda: path.exists() and not list(path.parent.glob("*.part.wav")), 15, "the merged recording")
    left, right = _stereo(path)
    assert len(left) > 4 * 8000
    # Left is the caller, right the agent, each from the moment of the bridge.
    assert found_anywhere(sig_caller, left, 3, max_lag_s=4) > 0.7
    assert found_anywhere(sig_agent, right, 1, max_lag_s=4) > 0.7
    assert best_correlation(sig_agent[1 * 8000: 3 * 8000], left, max_lag_s=4)[0] < 0.3
    assert not list(path.parent.glob("*.part.wav"))


def test_recording_cut_by_a_crash_is_readable_after_restart(tmp_path):
    """kill -9 of the core mid-call; the next start makes the parts one stereo file."""
    import os
    import signal
    import subprocess

    box = start_box(tmp_path, {**DEFAULT_EXTENSIONS, **AGENTS})
    agent = caller = None
    try:
        tables = json.loads(json.dumps(TABLES))
        tables["queues"][0].update(recording="always", wrapup_s=0)
        (tmp_path / "t.json").write_text(json.dumps(tables))
        run_cli(box.data, "callcenter", "load", str(tmp_path / "t.json"))
        box.cli("agent", "login", "201")
        agent = _agent(box, "201", "--duration", "30")
        wait_for_event(agent, "ready")
        caller = box.phone("101", "--call", f"sip:700@{box.proxy}", "--duration", "30", "--wait", "25",
                           "--play", str(write_wav(tmp_path / "c.wav", noise_signal(30, seed=5))), background=True)
        wait_for_event(caller, "media")
        deadline = time.monotonic() + 10
        while not list((box.data / "recordings").glob("*/*.part.wav")) and time.monotonic() < deadline:
            time.sleep(0.2)
        # Two seconds of conversation on disk in both parts (44-byte header
        # + 16 kB a second), however slowly the host writes them.
        wait_until(lambda: [p for p in (box.data / "recordings").glob("*/*.part.wav") if p.stat().st_size > 44 + 32000]
                   [1:], 15, "two seconds recorded in both parts")
        core = subprocess.run(["pgrep", "-f", f"firmware --data {box.data} core"], capture_output=True, text=True)
        os.kill(int(core.stdout.split()[0]), signal.SIGKILL)
        assert box.proc.wait(timeout=20) == 1  # smallpbx run stops when the core dies
    finally:
        stop_box(box)
        for phone in (agent, caller):
            if phone is not None:
                phone.kill()
                phone.wait()
    parts = list((box.data / "recordings").glob("*/*.part.wav"))
    assert len(parts) == 2
    box2 = start_box(tmp_path / "restart", data=box.data)
    try:
        files = [p for p in (box.data / "recordings").glob("*/*.wav") if not p.name.endswith(".part.wav")]
        assert len(files) == 1 and not list((box.data / "recordings").glob("*/*.part.wav"))
        left, right = _stereo(files[0])
        assert len(left) > 1.5 * 8000
        assert "recovered 1 recordings" in box2.log()
    finally:
        stop_box(box2)


def test_night_mode_feature_code_and_override_switch_the_route(ccbox, tmp_path):
    box = ccbox
    tables = json.loads(json.dumps(TABLES))
    tables["time_conditions"] = [{"id": "hours", "timezone": "Asia/Shanghai",
                                  "hours": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
                                  "open": "menu:main", "closed": "announcement:closed"}]
    tables["routes"].append({"number": "800", "target": "time_condition:hours"})
    (tmp_path / "t.json").write_text(json.dumps(tables))
    run_cli(box.data, "callcenter", "load", str(tmp_path / "t.json"))
    before = len(_records(box))
    # Open all day: the caller reaches the menu and hangs up there.
    box.phone("102", "--call", f"sip:800@{box.proxy}", "--duration", "2")
    # *28 from a phone: night mode on.
    toggled = box.phone("101", "--call", f"sip:*28@{box.proxy}", "--duration", "8")
    assert toggled.last("done")["answered"]
    shown = json.loads(box.cli("callcenter", "show").stdout)
    assert shown["time_conditions"][0]["override"] == "closed"   # *28 stored night mode in the config
    closed = box.phone("102", "--call", f"sip:800@{box.proxy}", "--duration", "20")
    assert closed.last("done")["answered"]
    box.cli("override", "hours", "auto")
    box.phone("102", "--call", f"sip:800@{box.proxy}", "--duration", "2")

    def through_hours():
        rows = [r for r in _records(box)[before:] if r["route"] == "time_condition:hours"]
        return rows if len(rows) >= 3 else None
    records = wait_until(through_hours, 10, "three records through the time condition")
    assert [r["disposition"] for r in records] == ["abandoned-in-ivr", "hangup", "abandoned-in-ivr"]
    # The closed message ended the call from the box's side, well before 20 s.
    assert records[1]["ended"] - records[1]["arrived"] < 15


def test_waiting_caller_hears_their_position(ccbox, tmp_path):
    box = ccbox
    _load(box, tmp_path, announce_every_s=3, join_empty=True, leave_when_empty=False)
    _login_only(box)
    heard_path = tmp_path / "waiting.wav"
    result = box.phone("103", "--call", f"sip:700@{box.proxy}", "--record", str(heard_path),
                       "--duration", "9", "--wait", "20")
    assert result.last("done")["answered"]
    prompt = read_wav(box.data / "prompts" / "en" / "position-1.wav")
    heard = read_wav(heard_path)
    # The first announcement, after ~3 s of hold music; the search stops before the
    # second one (3 s later), which would otherwise match just as well.
    peak, lag = best_correlation(prompt[: int(1.5 * 8000)], heard, max_lag_s=5)
    assert peak > 0.7, f"first position announcement not heard ({peak:.2f})"
    assert 2.5 < lag < 5, lag
    assert best_correlation(prompt[: int(1.5 * 8000)], heard[: int(2.5 * 8000)], max_lag_s=2.5)[0] < 0.5, \
        "announced before any hold music"


def test_silence_times_out_three_times_then_reaches_a_person(ccbox, tmp_path):
    box = ccbox
    agent, before = _one_agent_ready(box, tmp_path, "201")
    caller = box.phone("103", "--call", f"sip:601@{box.proxy}", "--duration", "12", "--wait", "25")
    assert caller.last("done")["answered"]
    assert finish_phone(agent).last("done")["answered"], "three silences did not reach a person"
    [rec] = _new_records(box, before)
    assert json.loads(rec["ivr_choices"]) == [] and rec["agent"] == "201"
    # beep 0.4 s + 1 s silence, then twice (beep, beep, 1 s): the agent rang after ~5 s.
    assert 3 < rec["queue_entered"] - rec["arrived"] < 8


def test_voicemail_left_then_heard_and_deleted_by_phone(ccbox, tmp_path):
    box = ccbox
    box.cli("voicemail", "pin", "101", "--pin", "4827")
    message = noise_signal(14, seed=77)   # speaks through the greeting, into the message
    left = box.phone("102", "--call", f"sip:900@{box.proxy}", "--duration", "11", "--wait", "20",
                     "--play", str(write_wav(tmp_path / "msg.wav", message)))
    assert left.last("done")["answered"]
    listing = box.cli("voicemail", "list", "101").stdout.strip().splitlines()
    assert len(listing) == 1 and "from 102" in listing[0]
    heard_path = tmp_path / "heard.wav"
    # PIN, then listen; 7 deletes the message.
    listen = box.phone("101", "--call", f"sip:*97@{box.proxy}", "--dtmf", "4827# 7", "--dtmf-delay", "1",
                       "--dtmf-gap", "9", "--record", str(heard_path), "--duration", "16", "--wait", "20")
    assert listen.last("done")["answered"]
    # What the caller played after the greeting and beep is what the owner heard.
    assert best_correlation(message[8 * 8000: 9 * 8000], read_wav(heard_path), max_lag_s=12)[0] > 0.7
    assert box.cli("voicemail", "list", "101").stdout.strip() == ""
    records = [r for r in _records(box) if r["route"] == "voicemail:101"]
    assert records[-1]["disposition"] == "voicemail"


def test_sip_info_dtmf_drives_the_menu_too(ccbox, tmp_path):
    box = ccbox
    agent, before = _one_agent_ready(box, tmp_path, "202")
    caller = box.phone("101", "--call", f"sip:600@{box.proxy}", "--dtmf", "1", "--dtmf-method", "info",
                       "--dtmf-delay", "1", "--duration", "6", "--wait", "20")
    assert caller.last("dtmf")["method"] == "info"
    assert finish_phone(agent).last("done")["answered"]
    [rec] = _new_records(box, before)
    assert json.loads(rec["ivr_choices"]) == ["1"] and rec["agent"] == "202"


def test_returning_caller_gets_the_agent_who_served_them_last(ccbox, tmp_path):
    box = ccbox
    _load(box, tmp_path, strategy="rrmemory", wrapup_s=0, sticky_days=7)
    _login_only(box, "201", "202")
    agents = {ext: _agent(box, ext, "--duration", "30", "--wait", "40") for ext in ("201", "202")}
    for proc in agents.values():
        wait_for_event(proc, "ready")
    before = len(_records(box))
    assert _call_queue(box, "103", seconds=1.5).last("done")["answered"]
    first = _new_records(box, before)[0]["agent"]
    # The agent who took it hangs up and re-registers; the other stays ready.
    finish_phone(agents[first])
    agents[first] = _agent(box, first, "--duration", "30", "--wait", "40")
    wait_for_event(agents[first], "ready")
    assert _call_queue(box, "103", seconds=1.5).last("done")["answered"]
    for proc in agents.values():
        proc.kill()
        proc.wait()
    second = _new_records(box, before, 2)[1]["agent"]
    # rrmemory alone would have offered the other agent.
    assert second == first


def test_agent_logins_survive_a_restart(tmp_path):
    box = start_box(tmp_path, AGENTS)
    try:
        box.cli("agent", "login", "201")
        box.cli("agent", "login", "202")
        box.cli("agent", "pause", "202", "--reason", "lunch")
        time.sleep(0.5)  # saved on the next tick
    finally:
        stop_box(box)
    again = start_box(tmp_path / "again", data=box.data)
    try:
        agents = {a["extension"]: a for a in again.status()["callcenter"]["agents"]}
        assert agents["201"]["state"] == "available"
        assert agents["202"]["state"] == "paused" and agents["202"]["pause_reason"] == "lunch"
        assert "203" not in agents or agents["203"]["state"] == "logged-out"
    finally:
        stop_box(again)


def test_front_panel_follows_the_queue(ccbox, tmp_path):
    """Simulated hardware: mock pins and the OLED's real driver on a fake bus."""
    from PIL import Image

    box = ccbox
    _load(box, tmp_path, strategy="rrmemory", ring_timeout_s=20, join_empty=True)
    _login_only(box, "203")
    time.sleep(0.5)
    idle = box.cli("panel", "--png", str(tmp_path / "idle.png")).stdout
    assert "LED agents   on" in idle and "LED waiting  off" in idle, idle
    sleeper = box.phone("203", "--answer", "--ring-only", "--wait", "10", background=True)
    wait_for_event(sleeper, "ready")
    caller = box.phone("102", "--call", f"sip:700@{box.proxy}", "--duration", "5", "--wait", "15", background=True)
    wait_for_event(caller, "media")
    time.sleep(1.0)
    busy = box.cli("panel", "--png", str(tmp_path / "busy.png")).stdout
    finish_phone(caller)
    finish_phone(sleeper)
    assert "LED waiting  on" in busy and "LED agents   slow" in busy, busy
    before, during = Image.open(tmp_path / "idle.png"), Image.open(tmp_path / "busy.png")
    assert before.size == during.size == (128, 64)
    assert before.tobytes() != during.tobytes()   # "Waiting 0" became "Waiting 1"


def test_owner_records_the_greeting_by_phone(ccbox, tmp_path):
    box = ccbox
    speech = noise_signal(4, seed=81)
    phone = box.phone("101", "--answer", "--wait", "20", "--duration", "6",
                      "--play", str(write_wav(tmp_path / "greeting.wav", speech)), background=True)
    wait_for_event(phone, "ready")
    out = box.cli("prompt", "record", "shop-greeting", "--extension", "101", "--lang", "zh_CN", check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "saved" in out.stdout, out.stdout
    assert finish_phone(phone).last("done")["answered"]
    recorded = read_wav(box.data / "prompts" / "custom" / "zh_CN" / "shop-greeting.wav")
    assert found_anywhere(speech, recorded, 1, seconds=2) > 0.7, "the recording is not what the owner said"
    # Recorded in the box's run folder (not a temp folder left behind at each start), and moved from it.
    assert list((box.data / "run" / "prompt-recordings").iterdir()) == []
    refused = box.cli("prompt", "record", "../evil", "--extension", "101", check=False)
    assert refused.returncode != 0 and "letters, digits" in refused.stderr
