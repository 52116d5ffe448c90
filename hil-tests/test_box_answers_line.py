"""The whole box answers its GSM line: the IVR picks up, keys reach the menu.

Real box: stop the SmallPBX services first (this starts its own box on
loopback with a temporary data directory), then set SMALLPBX_HIL=1,
SMALLPBX_MODEM_PORT, SMALLPBX_MODEM_VENDOR, SMALLPBX_MODEM_PCM_PORT (for a
SIM7600's voice), SMALLPBX_TEST_NUMBER and SMALLPBX_SIM_PIN if needed, and
run ``.venv/bin/python -m pytest hil-tests/test_box_answers_line.py -s``:
call the box from the test phone when asked, listen for the greeting and
press 1. Without SMALLPBX_HIL the emulated modem is the network and the
phone, so this runs in CI too.
"""
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from boxtools import run_cli, start_box, stop_box, wait_until  # noqa: E402

HIL = os.environ.get("SMALLPBX_HIL") == "1"
VENDOR = os.environ.get("SMALLPBX_MODEM_VENDOR", "sim7600")
TEST_NUMBER = os.environ.get("SMALLPBX_TEST_NUMBER", "13800138000")
PERSON_WAIT_S = 90 if HIL else 15


def test_the_box_answers_the_line_with_its_menu_and_takes_a_key(tmp_path):
    far_end = None
    if HIL:
        device, pcm = os.environ.get("SMALLPBX_MODEM_PORT"), os.environ.get("SMALLPBX_MODEM_PCM_PORT", "")
        if not device or not os.path.exists(device):
            pytest.skip("SMALLPBX_MODEM_PORT does not name a serial device on this box")
    else:
        from firmware.sim.modem_emulator import ModemEmulator
        far_end = ModemEmulator(VENDOR, pcm=VENDOR == "sim7600")
        far_end.ring_interval = 0.5
        device = far_end.start()
        pcm = far_end.pcm_path or ""
    box = start_box(tmp_path, {"101": "Hil-test-pass-1"})
    try:
        line = {"id": "gsm1", "device": device, "vendor": VENDOR, "route": "600"}
        if pcm:
            line["pcm_device"] = pcm
        if os.environ.get("SMALLPBX_SIM_PIN"):
            line["pin"] = os.environ["SMALLPBX_SIM_PIN"]
        tables = {"routes": [{"number": "600", "target": "menu:main"}],
                  "menus": [{"id": "main", "prompt": "welcome", "choices": {"1": "hangup"}, "operator": "hangup",
                             "timeout_s": 10}],
                  "lines": [line]}
        (tmp_path / "t.json").write_text(json.dumps(tables))
        run_cli(box.data, "callcenter", "load", str(tmp_path / "t.json"))
        wait_until(lambda: any(l["state"] == "up" for l in box.status()["lines"]), 60, "line up")
        print(f"\ncall the box's SIM from {TEST_NUMBER}; after the greeting press 1")
        if far_end:
            far_end.incoming_call(TEST_NUMBER)
        wait_until(lambda: [c for c in box.status()["calls"] if c["state"] == "up"], PERSON_WAIT_S,
                   "call answered by the box")
        if far_end:
            time.sleep(1.0)
            far_end.send_dtmf("1")
        db = box.data / "records.db"

        def record():
            con = sqlite3.connect(db)
            rows = con.execute("SELECT caller, line, ivr_choices FROM calls").fetchall()
            con.close()
            return rows
        [(caller, line_name, choices)] = wait_until(record, PERSON_WAIT_S, "the call record")
        assert line_name == "gsm1" and caller.endswith(TEST_NUMBER[-8:])
        assert json.loads(choices) == ["1"], "the key did not reach the menu"
        if far_end and pcm:
            assert len(far_end.captured_audio) > 8000, "the caller heard nothing"
    finally:
        assert stop_box(box) == 0
        if far_end:
            far_end.close()
