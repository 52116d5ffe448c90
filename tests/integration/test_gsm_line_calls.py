"""A GSM line on a running box, through the emulated SIM7600 on a pty.

The emulator (firmware/sim) is the modem's far side: AT commands on one
pty, the voice PCM stream on a second, as on the real module's USB ports.
The caller's voice is a noise signal the emulator plays into the PCM
stream; the agent is a pjsua2 phone registered through Kamailio. Audio is
checked both ways against the signals each side played, and the call
record against what happened.
"""
import json
import time

import numpy as np
import pytest

from audio import found_anywhere, level, noise_signal, pcm_samples, read_wav, write_wav
from boxtools import (
    DEFAULT_EXTENSIONS, finish_phone, run_cli, start_box, stop_box, wait_for_event, wait_until,
    call_records)
from firmware.sim.modem_emulator import ModemEmulator

CALLER = "13800138000"
TABLES = {
    "routes": [{"number": "600", "target": "menu:main"}],
    "menus": [{"id": "main", "prompt": "welcome", "choices": {"1": "queue:sales"}, "operator": "queue:sales",
               "timeout_s": 6}],
    "queues": [{"id": "sales", "members": ["201"], "strategy": "rrmemory", "ring_timeout_s": 8,
                "retry_s": 1, "wrapup_s": 0, "failover": "hangup", "join_empty": True}],
}


def _pcm(signal: np.ndarray) -> bytes:
    return (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()


@pytest.fixture(scope="module")
def gsmbox(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gsmbox")
    modem = ModemEmulator("sim7600", pcm=True)
    modem.start()
    box = start_box(tmp, {**DEFAULT_EXTENSIONS, "201": "Agent-one-pass"})
    tables = {**TABLES,
              "lines": [{"id": "gsm1", "kind": "gsm", "device": modem.path, "vendor": "sim7600",
                         "pcm_device": modem.pcm_path, "route": "600"}],
              "outbound_routes": [{"id": "mobile", "patterns": ["_1[3-9]XXXXXXXXX"], "extensions": ["101"],
                                   "lines": ["gsm1"]}]}
    (tmp / "tables.json").write_text(json.dumps(tables))
    run_cli(box.data, "callcenter", "load", str(tmp / "tables.json"))
    box.modem = modem
    wait_until(lambda: [l for l in box.status()["lines"] if l["state"] == "up"], 20, "the line to come up")
    yield box
    code = stop_box(box)
    modem.close()
    log = box.log()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log and "Aborted" not in log, log[-5000:]


def test_line_is_reported_with_its_state_and_signal(gsmbox):
    # The signal is read right after the line comes up.
    [line] = wait_until(lambda: [l for l in gsmbox.status()["lines"] if l["signal_dbm"] is not None], 10, "the signal")
    assert line["name"] == "gsm1" and line["state"] == "up" and line["route"] == "600"
    assert line["signal_dbm"] is not None and -113 <= line["signal_dbm"] <= -51
    assert line["panel_state"] == "up"


def test_gsm_caller_reaches_the_menu_presses_1_and_talks_to_an_agent(gsmbox, tmp_path):
    box, modem = gsmbox, gsmbox.modem
    box.cli("agent", "login", "201")
    before = len(call_records(box))
    since = time.time()
    # Each side talks for as long as the call can last, from before the
    # bridge is made: whenever the box joins them, each hears the other.
    sig_caller, sig_agent = noise_signal(20, seed=41), noise_signal(7, seed=42)
    agent = box.phone("201", "--answer", "--wait", "30", "--duration", "7",
                      "--play", str(write_wav(tmp_path / "agent.wav", sig_agent)),
                      "--record", str(tmp_path / "agent_heard.wav"), background=True)
    seen = wait_for_event(agent, "ready")

    modem.incoming_call(CALLER)
    wait_until(lambda: modem.call_state == "active", 10, "the box to answer the GSM call")
    wait_until(lambda: modem.pcm_streaming, 5, "the PCM stream")
    # The welcome prompt plays: the menu is running.
    wait_until(lambda: level(pcm_samples(modem.captured_audio)) > 0.01, 10, "the welcome prompt")
    modem.send_dtmf("1")                          # the modem reports +RXDTMF: 1
    mark = len(modem.captured_audio)
    modem.play_caller_audio(_pcm(sig_caller))
    seen += wait_for_event(agent, "media", timeout=15)   # the agent answered
    agent_result = finish_phone(agent)
    assert agent_result.last("done")["answered"]
    caller_heard = pcm_samples(modem.captured_audio[mark:])
    agent_heard = read_wav(tmp_path / "agent_heard.wav")
    story = lambda: f"line audio: {box.status()['lines'][0]['audio']}\n{box.story(since, seen, agent_result.events)}"
    assert found_anywhere(sig_agent, caller_heard, 0, max_lag_s=15) > 0.7, \
        f"the GSM caller did not hear the agent; {story()}"
    assert found_anywhere(sig_caller, agent_heard, 0) > 0.7, f"the agent did not hear the caller; {story()}"
    wait_until(lambda: modem.call_state in ("idle", None, ""), 10, "the line to hang up after the agent")

    [rec] = wait_until(lambda: call_records(box)[before:], 5, "the call record")
    assert rec["line"] == "gsm1" and rec["caller"] == CALLER
    assert rec["agent"] == "201" and rec["disposition"] == "answered" and rec["queue"] == "sales"
    assert json.loads(rec["ivr_choices"]) == ["1"]
    box.cli("agent", "logout", "201")


def test_caller_hanging_up_in_the_menu_is_recorded_and_frees_the_line(gsmbox):
    box, modem = gsmbox, gsmbox.modem
    before = len(call_records(box))
    modem.incoming_call("13900139000")
    wait_until(lambda: modem.call_state == "active", 10, "the box to answer")
    wait_until(lambda: [l for l in box.status()["lines"] if l["panel_state"] == "in-call"], 5, "in-call on the panel")
    modem.remote_hangup()
    [rec] = wait_until(lambda: call_records(box)[before:], 5, "the call record")
    assert rec["line"] == "gsm1" and rec["caller"] == "13900139000" and rec["disposition"] != "answered"
    wait_until(lambda: box.status()["lines"][0]["call"] is None, 5, "the line to be free")
    assert box.status()["calls"] == []


def test_extension_calls_a_mobile_number_out_through_the_line(gsmbox, tmp_path):
    box, modem = gsmbox, gsmbox.modem
    before = len(call_records(box))
    sig_phone, sig_far = noise_signal(8, seed=51), noise_signal(8, seed=52)
    phone = box.phone("101", "--call", f"sip:13912345678@{box.proxy}", "--duration", "6", "--wait", "25",
                      "--play", str(write_wav(tmp_path / "phone.wav", sig_phone)),
                      "--record", str(tmp_path / "phone_heard.wav"), background=True)
    wait_until(lambda: modem.call_state in ("dialling", "alerting"), 15, "the modem to dial")
    assert modem.dialled[-1] == "13912345678"
    time.sleep(0.5)
    mark = len(modem.captured_audio)
    modem.remote_answer()
    modem.play_caller_audio(_pcm(sig_far))
    result = finish_phone(phone)
    assert result.last("done")["answered"], result.events
    far_heard = pcm_samples(modem.captured_audio[mark:])
    assert found_anywhere(sig_phone, far_heard, 1) > 0.7, "the far end did not hear the extension"
    assert found_anywhere(sig_far, read_wav(tmp_path / "phone_heard.wav"), 0) > 0.7, \
        "the extension did not hear the far end"
    wait_until(lambda: modem.call_state == "idle", 10, "the line to hang up after the extension")
    [rec] = wait_until(lambda: call_records(box)[before:], 5, "the call record")
    assert (rec["caller"], rec["line"], rec["dialed"]) == ("101", "gsm1", "13912345678")
    assert rec["route"] == "outbound:mobile" and rec["disposition"] == "answered" and rec["talk_s"] > 3


def test_an_extension_without_the_right_cannot_call_out(gsmbox):
    box, modem = gsmbox, gsmbox.modem
    dialled = len(modem.dialled)
    result = box.phone("102", "--call", f"sip:13912345678@{box.proxy}", "--duration", "1", "--wait", "10")
    assert not result.last("done")["answered"]
    assert result.last("done")["last_code"] in (403, 404)
    assert len(modem.dialled) == dialled


def test_busy_far_end_is_told_to_the_extension(gsmbox):
    box, modem = gsmbox, gsmbox.modem
    phone = box.phone("101", "--call", f"sip:13700137000@{box.proxy}", "--duration", "1", "--wait", "20",
                      background=True)
    wait_until(lambda: modem.call_state in ("dialling", "alerting"), 15, "the modem to dial")
    modem.remote_hangup()              # the far end rejects: NO CARRIER before any answer
    result = finish_phone(phone)
    assert not result.last("done")["answered"]
    assert result.last("done")["last_code"] in (480, 486), result.events


def test_texts_are_received_stored_and_sent(gsmbox):
    box, modem = gsmbox, gsmbox.modem
    modem.deliver_sms("13800138000", "明天上午十点还营业吗？")
    got = wait_until(lambda: [m for m in json.loads(box.cli("sms", "list", "--json").stdout) if m["direction"] == "in"],
                10, "the text to be stored")
    assert got[0]["number"] == "13800138000" and got[0]["text"] == "明天上午十点还营业吗？"
    assert got[0]["line"] == "gsm1"
    out = box.cli("sms", "send", "13800138000", "营业，欢迎光临 / open, welcome")
    assert "gsm1" in out.stdout
    wait_until(lambda: ("13800138000", "营业，欢迎光临 / open, welcome") in modem.sent_sms, 10, "the modem to send")
    wait_until(lambda: any(m["direction"] == "out" and m["status"] == "sent"
                      for m in json.loads(box.cli("sms", "list", "--json").stdout)), 10, "status sent")
    refused = box.cli("sms", "send", "not-a-number", "hi", check=False)
    assert refused.returncode != 0 and "not a phone number" in refused.stderr


def test_owner_test_call_rings_a_mobile_through_the_line_and_plays_the_message(gsmbox):
    box, modem = gsmbox, gsmbox.modem
    result = {}

    def run():
        result["cli"] = box.cli("test-call", "gsm1", "13611112222", check=False)
    import threading
    t = threading.Thread(target=run)
    t.start()
    wait_until(lambda: modem.call_state in ("dialling", "alerting"), 15, "the modem to dial")
    assert modem.dialled[-1] == "13611112222"
    mark = len(modem.captured_audio)
    modem.remote_answer()
    t.join(30)
    out = result["cli"]
    assert out.returncode == 0 and "done" in out.stdout, out.stdout + out.stderr
    heard = pcm_samples(modem.captured_audio[mark:])
    message = read_wav(box.data / "prompts" / "en" / "playback-test.wav")
    assert found_anywhere(message, heard, 0.5, seconds=2) > 0.7, "the test message did not reach the mobile"
    wait_until(lambda: modem.call_state == "idle", 10, "the line to hang up after the message")
