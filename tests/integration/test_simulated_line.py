"""'smallpbx run' without the hat: a simulated modem a person can ring the box from."""
import json

from boxtools import run_cli, start_box, stop_box, wait_until


def test_a_person_rings_the_box_through_the_simulated_modem(tmp_path):
    box = start_box(tmp_path, {"101": "Alice-pass-9x"})
    try:
        sim = json.loads((box.data / "run" / "sim-modem.json").read_text())
        assert sim["at"].startswith("/dev/pts/") and sim["pcm"].startswith("/dev/pts/")
        tables = {"routes": [{"number": "600", "target": "menu:main"}],
                  "menus": [{"id": "main", "prompt": "welcome", "choices": {"1": "hangup"}, "operator": "hangup", "timeout_s": 8}],
                  "lines": [{"id": "gsm1", "device": "sim", "route": "600"}]}
        (tmp_path / "t.json").write_text(json.dumps(tables))
        run_cli(box.data, "callcenter", "load", str(tmp_path / "t.json"))
        wait_until(lambda: "gsm1" in box.cli("lines").stdout and " up " in box.cli("lines").stdout, 20, "the line")

        state = json.loads(box.cli("sim", "ring", "--from", "13812345678").stdout)
        assert state["call"] in ("ringing", "active")
        wait_until(lambda: json.loads(box.cli("sim", "state").stdout)["call"] == "active", 10, "the box to answer")
        # The modem is off-hook at ATA; the box's menu starts once its worker has
        # also switched the voice port on (the call shows "up"). Keys pressed
        # before that would reach no menu yet.
        [call] = wait_until(lambda: [c for c in box.status()["calls"] if c["state"] == "up"], 10, "the menu")
        assert call["caller"] == "13812345678" and call["line"] == "gsm1"
        box.cli("sim", "dtmf", "1")              # menu choice 1: hang up
        wait_until(lambda: json.loads(box.cli("sim", "state").stdout)["call"] == "idle", 10, "the box to hang up")
        bad = box.cli("sim", "fault", "melt", check=False)
        assert bad.returncode != 0
    finally:
        assert stop_box(box) == 0
    assert not (box.data / "run" / "sim-modem.json").exists()
    assert "Traceback" not in box.log()
