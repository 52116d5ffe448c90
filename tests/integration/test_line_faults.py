"""A line fails on a running box: detected in time, the owner alerted, recovered.

Two emulated SIM7600s are the box's two lines. gsm2 is made to misbehave;
the box must notice within 30 s, text the owner through gsm1 (the broken
line cannot carry the alert), bring gsm2 back once the modem behaves, and
text the owner again. No crash, and the line events are kept.
"""
import json
import sqlite3
import time

import pytest

from boxtools import DEFAULT_EXTENSIONS, run_cli, start_box, stop_box, wait_until
from firmware.sim.modem_emulator import ModemEmulator

OWNER = "13600136000"


def _state(box, name):
    return next(l["state"] for l in box.status()["lines"] if l["name"] == name)


@pytest.fixture(scope="module")
def twolines(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    modems = {name: ModemEmulator("sim7600") for name in ("gsm1", "gsm2")}
    for m in modems.values():
        m.start()
    box = start_box(tmp, DEFAULT_EXTENSIONS)
    run_cli(box.data, "settings", "set", "alert_sms_to", OWNER)
    run_cli(box.data, "settings", "set", "alert_hold_s", "0")     # three faults in a row here
    tables = {"routes": [{"number": "600", "target": "hangup"}],
              "lines": [{"id": name, "device": m.path, "route": "600"} for name, m in modems.items()]}
    (tmp / "t.json").write_text(json.dumps(tables))
    run_cli(box.data, "callcenter", "load", str(tmp / "t.json"))
    wait_until(lambda: all(l["state"] == "up" for l in box.status()["lines"]) and len(box.status()["lines"]) == 2,
          20, "both lines up")
    box.modems = modems
    yield box
    code = stop_box(box)
    for m in modems.values():
        m.close()
    assert code == 0
    assert "Traceback" not in box.log(), box.log()[-4000:]


@pytest.mark.parametrize("fault,down_state", [("hang", "unresponsive"), ("sim-missing", "sim-missing"),
                                              ("no-network", "no-network")])
def test_fault_is_detected_alerted_and_recovered(twolines, fault, down_state):
    box, gsm1, gsm2 = twolines, twolines.modems["gsm1"], twolines.modems["gsm2"]
    texts_before = len(gsm1.sent_sms)
    gsm2.misbehave(fault)
    started = time.monotonic()
    wait_until(lambda: _state(box, "gsm2") == down_state, 30, f"gsm2 to be {down_state}")
    detected = time.monotonic() - started
    assert detected <= 30
    assert _state(box, "gsm1") == "up"
    [(to, text)] = wait_until(lambda: gsm1.sent_sms[texts_before:], 10, "the alert text through gsm1")
    assert to == OWNER and "gsm2 is DOWN" in text and down_state in text
    gsm2.misbehave(None)
    wait_until(lambda: _state(box, "gsm2") == "up", 40, "gsm2 to recover")
    wait_until(lambda: len(gsm1.sent_sms) >= texts_before + 2, 10, "the recovered text")
    assert "gsm2 is working again" in gsm1.sent_sms[texts_before + 1][1]
    db = sqlite3.connect(box.data / "records.db")
    states = [r[0] for r in db.execute("SELECT state FROM line_events WHERE line = 'gsm2' ORDER BY id")]
    db.close()
    assert states[-2:] == [down_state, "up"]
    assert "gsm2" in box.cli("lines").stdout
