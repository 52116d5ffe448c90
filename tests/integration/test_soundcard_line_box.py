"""A sound-card line on a running box: the analog hat's voice path, end to end.

The line's signalling is the emulated SIM7600 on a pty (AT only, no PCM
port); its voice is a sound card: a private JACK server on the dummy
driver (tests/jacktools.py), which the core's PortAudio finds through
``$JACK_DEFAULT_SERVER``. The card's playback is wired back to its capture,
so what the box sends down the line comes back up it one JACK period
later. An agent on a pjsua2 phone takes the line's call from the queue and
talks: hearing their own voice back proves the whole path both ways —
bridge → from_pbx ring → resampler → card → card → resampler → to_pbx
ring → bridge — inside the core process, with its real threads.
"""
import json
import os
import time

import numpy as np
import pytest

from audio import RATE, found_anywhere, read_wav, write_wav
from boxtools import DEFAULT_EXTENSIONS, call_records, finish_phone, run_cli, start_box, stop_box, \
    wait_for_event, wait_until
from firmware.hw.soundcard import RING_TARGET_MS
from firmware.sim.modem_emulator import ModemEmulator
from jacktools import JackServer

CALLER = "13800138001"


def low_band_noise(seconds: float, seed: int) -> np.ndarray:
    """Noise bursts in 300-1000 Hz: the card loop delays by a fraction of a
    sample (a 48 kHz period is 170 2/3 samples at 8 kHz), which whole-sample
    correlation of full-band noise would mistake for a poor path."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < 300) | (freqs > 1000)] = 0
    x = np.fft.irfft(spectrum, n) * ((np.arange(n) // (RATE // 4)) % 2 == 0)
    return 0.3 * x / np.max(np.abs(x))


@pytest.fixture(scope="module")
def cardbox(tmp_path_factory):
    pytest.importorskip("sounddevice", reason="sounddevice/libportaudio2 not installed")
    tmp = tmp_path_factory.mktemp("cardbox")
    jack = JackServer(tmp).start()
    old = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = jack.name           # the box's core inherits it
    modem = ModemEmulator("sim7600", pcm=False)
    modem.start()
    box = None
    try:
        box = start_box(tmp, {**DEFAULT_EXTENSIONS, "201": "Agent-one-pass"})
        tables = {
            "routes": [{"number": "600", "target": "queue:sales"}],
            "queues": [{"id": "sales", "members": ["201"], "strategy": "rrmemory", "ring_timeout_s": 8,
                        "retry_s": 1, "wrapup_s": 0, "failover": "hangup", "join_empty": True}],
            "lines": [{"id": "gsm1", "kind": "gsm", "device": modem.path, "vendor": "sim7600",
                       "sound_device": "system", "route": "600"}],
        }
        (tmp / "tables.json").write_text(json.dumps(tables))
        run_cli(box.data, "callcenter", "load", str(tmp / "tables.json"))
        wait_until(lambda: [l for l in box.status()["lines"] if l["state"] == "up"], 20, "the line to come up")
        wait_until(lambda: {p.split("_")[0] for p in jack.ports().split()} >= {"PortAudio:in", "PortAudio:out"},
                   10, "the core's sound card stream on JACK")
        jack.loop_back()
        box.modem, box.jack = modem, jack
        yield box
    finally:
        code = stop_box(box) if box else 0       # PortAudio leaves JACK before jackd stops
        modem.close()
        jack.stop()
        if old is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = old
    if box:
        log = box.log()
        assert code == 0, log[-3000:]
        assert "Traceback" not in log and "Aborted" not in log, log[-5000:]
        assert "no voice path" not in log, log[-3000:]


def test_agent_hears_their_voice_come_back_through_the_sound_card_line(cardbox, tmp_path):
    box, modem = cardbox, cardbox.modem
    box.cli("agent", "login", "201")
    before = len(call_records(box))
    since = time.time()
    voice = low_band_noise(6, seed=51)
    agent = box.phone("201", "--answer", "--wait", "30", "--duration", "7",
                      "--play", str(write_wav(tmp_path / "agent.wav", voice)),
                      "--record", str(tmp_path / "agent_heard.wav"), background=True)
    seen = wait_for_event(agent, "ready")
    modem.incoming_call(CALLER)
    wait_until(lambda: modem.call_state == "active", 10, "the box to answer the line")
    seen += wait_for_event(agent, "media", timeout=15)
    result = finish_phone(agent)
    assert result.last("done")["answered"]
    heard = read_wav(tmp_path / "agent_heard.wav")
    audio = box.status()["lines"][0]["audio"]
    score = found_anywhere(voice, heard, 1, max_lag_s=5)
    assert score > 0.7, (f"the agent's voice did not come back through the card (best {score:.2f}); {audio}\n"
                         f"{box.story(since, seen, result.events)}")
    # ... and it is the card that carried it: another signal is not in the recording.
    assert found_anywhere(low_band_noise(6, seed=52), heard, 1, max_lag_s=5) < 0.5
    # The card's rings hold the sound card's target (a card period is not a 20 ms frame), not the modem's.
    assert audio["to_pbx"]["target_ms"] >= RING_TARGET_MS and audio["from_pbx"]["target_ms"] >= RING_TARGET_MS
    wait_until(lambda: modem.call_state in ("idle", None, ""), 10, "the line to hang up after the agent")
    [rec] = wait_until(lambda: call_records(box)[before:], 5, "the call record")
    assert rec["line"] == "gsm1" and rec["caller"] == CALLER and rec["agent"] == "201", rec
