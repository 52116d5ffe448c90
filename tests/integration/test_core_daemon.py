"""The core daemon under a fake systemd: READY, watchdog pings, clean stop."""
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from boxtools import free_port_block

ROOT = Path(__file__).resolve().parents[2]


def test_core_notifies_ready_pings_watchdog_and_stops_cleanly(tmp_path):
    notify = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify))
    listener.settimeout(20)
    base = free_port_block(size=3)
    env = {"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "600000"}
    proc = subprocess.Popen([sys.executable, "-m", "firmware", "--data", str(tmp_path / "data"), "core",
                             "--sip-port", str(base), "--internal-port", str(base + 1),
                             "--core-port", str(base + 2), "--rtp-port", str(free_port_block(1, 50000, 58000))],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        messages = [listener.recv(200).decode()]
        assert messages[0].startswith("READY=1"), messages
        assert "4 call slots" in messages[0]
        start = time.monotonic()
        pings = 0
        while time.monotonic() - start < 1.5:
            if listener.recv(200) == b"WATCHDOG=1":
                pings += 1
        # WATCHDOG_USEC=0.6 s: a ping every 0.2 s while the loop is healthy.
        assert 3 <= pings <= 12, pings
        proc.send_signal(signal.SIGTERM)
        # Pings sent before the signal may still be queued: skip them only.
        message = listener.recv(200)
        while message == b"WATCHDOG=1":
            message = listener.recv(200)
        assert message == b"STOPPING=1"
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()
    err = proc.stderr.read()
    assert "core stopped" in err
    assert "Traceback" not in err and "Assertion" not in err


def test_stopping_the_box_with_calls_up_is_clean(tmp_path):
    from boxtools import DEFAULT_EXTENSIONS, start_box, stop_box, wait_for_event

    box = start_box(tmp_path, DEFAULT_EXTENSIONS)
    try:
        phones = [box.phone(u, "--call", f"sip:*43@{box.proxy}", "--duration", "30", background=True)
                  for u in ("101", "102")]
        for phone in phones:
            wait_for_event(phone, "media")
        assert len(box.status()["calls"]) == 2
    finally:
        code = stop_box(box)
    for phone in phones:
        phone.kill()
        phone.wait()
    log = box.log()
    assert code == 0, log[-2000:]
    assert "core stopped" in log
    assert "Aborted" not in log and "Assertion" not in log and "Traceback" not in log, log[-3000:]


def _core_started(box) -> float:
    """When the running core started (wall clock), or 0 while it is restarting."""
    try:
        return time.time() - box.status()["uptime"]
    except AssertionError:              # boxtools: the status command failed
        return 0.0


def test_a_restart_waits_for_the_last_call_or_cuts_the_calls_when_asked_now(tmp_path):
    from boxtools import DEFAULT_EXTENSIONS, finish_phone, start_box, stop_box, wait_for_event, wait_until

    box = start_box(tmp_path, DEFAULT_EXTENSIONS)
    try:
        # "idle": asked while a call is up, the core keeps going, and a cancel holds.
        first = box.phone("101", "--call", f"sip:*43@{box.proxy}", "--duration", "8", background=True)
        wait_for_event(first, "media")
        assert "once no call is up" in box.cli("restart").stdout
        assert box.status()["restart_pending"] == "idle"
        assert "cancelled" in box.cli("restart", "cancel").stdout
        assert finish_phone(first).last("done")["answered"]
        time.sleep(1.5)
        before = box.status()
        assert before["restart_pending"] is None and before["uptime"] > 8, before

        # Asked again with a call up: the restart waits for its end, then happens.
        second = box.phone("102", "--call", f"sip:*43@{box.proxy}", "--duration", "8", background=True)
        wait_for_event(second, "media")
        box.cli("restart", "idle")
        started = _core_started(box)
        assert box.status()["restart_pending"] == "idle"
        assert finish_phone(second).last("done")["answered"]
        wait_until(lambda: _core_started(box) > started + 2, 30, "the core to restart after the call")
        assert box.proc.poll() is None, "smallpbx run must start the core again, not stop"

        # "now": the call in progress is cut, and calls work again afterwards.
        third = box.phone("103", "--call", f"sip:*43@{box.proxy}", "--duration", "30", background=True)
        wait_for_event(third, "media")
        started = _core_started(box)
        assert "restarting" in box.cli("restart", "now").stdout
        asked = time.monotonic()
        cut = finish_phone(third, timeout=25)
        assert cut.last("done")["answered"] and time.monotonic() - asked < 20, "the call was not cut"
        wait_until(lambda: _core_started(box) > started + 1, 30, "the core back after 'now'")
        again = box.phone("101", "--call", f"sip:*43@{box.proxy}", "--duration", "1")
        assert again.last("done")["answered"] and again.last("done")["media"], again.events
        assert box.cli("restart", "soon", check=False).returncode != 0
    finally:
        code = stop_box(box)
    log = box.log()
    assert code == 0, log[-2000:]
    assert log.count("the core asked to be restarted") == 2, log[-3000:]
    assert "Traceback" not in log and "Aborted" not in log, log[-3000:]
