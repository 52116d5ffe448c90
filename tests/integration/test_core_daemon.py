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
        assert listener.recv(200) == b"STOPPING=1"
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
