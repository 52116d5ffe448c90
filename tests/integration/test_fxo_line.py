"""An analog line on a running box, through an emulated V.253 USB voice modem.

The emulator (firmware/sim/v253_emulator.py) is the modem and the phone
line behind it: it rings with caller ID, streams the caller's voice as
DLE-shielded samples, reports keys as DLE codes and hangs up with a busy
tone. The agent is a pjsua2 phone; audio is checked both ways.
"""
import json
import time

import numpy as np
import pytest

from audio import found_anywhere, level, noise_signal, pcm_samples, read_wav, write_wav
from boxtools import (
    DEFAULT_EXTENSIONS, finish_phone, run_cli, start_box, stop_box, wait_for_event, wait_until,
    call_records)
from firmware.sim.v253_emulator import V253Emulator

CALLER = "02112345678"


@pytest.fixture(scope="module")
def fxobox(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fxo")
    modem = V253Emulator()
    modem.ring_interval = 1.0
    modem.start()
    box = start_box(tmp, {**DEFAULT_EXTENSIONS, "201": "Agent-one-pass"})
    tables = {
        "routes": [{"number": "600", "target": "menu:main"}],
        "menus": [{"id": "main", "prompt": "welcome", "choices": {"2": "queue:sales"}, "operator": "queue:sales",
                   "timeout_s": 6}],
        "queues": [{"id": "sales", "members": ["201"], "strategy": "rrmemory", "ring_timeout_s": 8,
                    "wrapup_s": 0, "failover": "hangup", "join_empty": True}],
        "lines": [{"id": "fxo1", "kind": "fxo", "device": modem.path, "route": "600"}],
    }
    (tmp / "t.json").write_text(json.dumps(tables))
    run_cli(box.data, "callcenter", "load", str(tmp / "t.json"))
    wait_until(lambda: [l for l in box.status()["lines"] if l["state"] == "up"], 20, "the line to come up")
    box.modem = modem
    yield box
    code = stop_box(box)
    modem.close()
    assert code == 0
    assert "Traceback" not in box.log(), box.log()[-4000:]


def test_analog_caller_reaches_an_agent_with_audio_both_ways(fxobox, tmp_path):
    box, modem = fxobox, fxobox.modem
    box.cli("agent", "login", "201")
    before = len(call_records(box))
    since = time.time()
    # Each side talks for as long as the call can last, from before the
    # bridge is made: whenever the box joins them, each hears the other.
    sig_caller, sig_agent = noise_signal(20, seed=71), noise_signal(7, seed=72)
    agent = box.phone("201", "--answer", "--wait", "30", "--duration", "7",
                      "--play", str(write_wav(tmp_path / "agent.wav", sig_agent)),
                      "--record", str(tmp_path / "agent_heard.wav"), background=True)
    seen = wait_for_event(agent, "ready")
    modem.incoming_call(CALLER, "SHOP CUSTOMER")
    wait_until(lambda: modem.off_hook, 15, "the box to take the line off hook")
    wait_until(lambda: level(pcm_samples(modem.captured_audio)) > 0.01, 10, "the welcome prompt")   # the menu runs
    modem.send_dtmf("2")
    mark = len(modem.captured_audio)
    modem.play_caller_audio((np.clip(sig_caller, -1, 1) * 32767).astype("<i2").tobytes())
    seen += wait_for_event(agent, "media", timeout=15)
    result = finish_phone(agent)
    assert result.last("done")["answered"]
    caller_heard = pcm_samples(modem.captured_audio[mark:])
    story = lambda: f"line audio: {box.status()['lines'][0]['audio']}\n{box.story(since, seen, result.events)}"
    assert found_anywhere(sig_agent, caller_heard, 0, max_lag_s=15) > 0.7, \
        f"the analog caller did not hear the agent; {story()}"
    assert found_anywhere(sig_caller, read_wav(tmp_path / "agent_heard.wav"), 0) > 0.7, \
        f"the agent did not hear the analog caller; {story()}"
    wait_until(lambda: not modem.off_hook, 10, "the line back on hook")
    [rec] = wait_until(lambda: call_records(box)[before:], 5, "the call record")
    assert (rec["line"], rec["caller"], rec["agent"], rec["disposition"]) == ("fxo1", CALLER, "201", "answered")
    box.cli("agent", "logout", "201")


def test_far_end_busy_tone_ends_the_call(fxobox):
    box, modem = fxobox, fxobox.modem
    before = len(call_records(box))
    modem.incoming_call("02187654321")
    wait_until(lambda: modem.off_hook, 15, "the box to answer")
    modem.remote_hangup("b")                          # the exchange's busy tone after the caller left
    [rec] = wait_until(lambda: call_records(box)[before:], 10, "the call record")
    assert rec["line"] == "fxo1" and rec["caller"] == "02187654321"
    wait_until(lambda: not modem.off_hook, 10, "the line back on hook")
    wait_until(lambda: box.status()["lines"][0]["call"] is None, 5, "the line free")
