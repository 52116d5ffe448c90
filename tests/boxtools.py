"""A real box on loopback, and real phones to call it: helpers for the tests.

``start_box`` starts ``smallpbx run`` (Kamailio + core) in a temporary data
directory on free loopback ports; ``box.phone(...)`` runs a separate
pjsua2 process as a phone (tests/peers/pjphone.py). Tests import these
from here (``from boxtools import ...``), never from a conftest, whose
module name pytest gives to whichever conftest it loaded last.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / "peers"
SHARED = ROOT.parent / "shared"



def _port_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port_block(size: int = 4, low: int = 21000, high: int = 29000) -> int:
    """A base port such that base..base+size-1 are free on UDP and TCP."""
    for _ in range(200):
        base = random.randrange(low, high, 10)
        if all(_port_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free port block on loopback")


def smallpbx_cmd(data: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "firmware", "--data", str(data), *args]


def run_cli(data: Path, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(smallpbx_cmd(data, *args), capture_output=True, text=True, input=input,
                            timeout=60, cwd=ROOT)
    if check and result.returncode != 0:
        raise AssertionError(f"smallpbx {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


@dataclass
class PhoneResult:
    events: list[dict]
    returncode: int
    stderr: str

    def last(self, name: str) -> dict | None:
        for event in reversed(self.events):
            if event.get("event") == name:
                return event
        return None


@dataclass
class Box:
    data: Path
    sip_port: int
    core_port: int
    internal_port: int
    rtp_port: int
    log_path: Path
    trunk_port: int = 0
    web_port: int = 0
    proc: subprocess.Popen | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    _phone_count: int = 0

    @property
    def proxy(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run_cli(self.data, *args, check=check)

    def status(self) -> dict:
        return json.loads(self.cli("status", "--json").stdout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def story(self, since: float, *events: list[dict]) -> str:
        """The box's log lines (INFO and up) and phones' events from ``since``
        (wall clock) on, in time order: what a failed call test prints."""
        rows = []
        for line in self.log().splitlines():
            try:
                at = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            except ValueError:
                continue
            if at >= since and " DEBUG " not in line:
                rows.append((at, "box   " + line[24:200]))
        rows += [(e["at"], f"phone {e}") for group in events for e in group if e.get("at", 0) >= since]
        return "\n".join(f"{at - since:7.2f} {text}" for at, text in sorted(rows))

    def phone_ports(self) -> tuple[int, int]:
        base = free_port_block(size=1, low=30000, high=38000)
        rtp = free_port_block(size=8, low=40000, high=48000)
        return base, rtp

    def next_phone_address(self) -> str:
        """Each phone gets its own loopback address, like phones on a LAN
        (and so the flood limit counts each phone on its own)."""
        self._phone_count += 1
        return f"127.0.2.{self._phone_count % 250 + 1}"

    def phone(self, user: str, *args: str, password: str | None = None, background: bool = False):
        sip_port, rtp_port = self.phone_ports()
        cmd = [sys.executable, str(PEERS / "pjphone.py"), "--user", user,
               "--password", password if password is not None else self.passwords[user],
               "--proxy", self.proxy, "--bind", self.next_phone_address(),
               "--sip-port", str(sip_port), "--rtp-port", str(rtp_port), *args]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        if background:
            return proc
        return finish_phone(proc)


def finish_phone(proc: subprocess.Popen, timeout: float = 60) -> PhoneResult:
    out, err = proc.communicate(timeout=timeout)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return PhoneResult(events, proc.returncode, err)


def wait_for_event(proc: subprocess.Popen, name: str, timeout: float = 20) -> list[dict]:
    """Read a background phone's stdout until it reports ``name``."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("{"):
            event = json.loads(line)
            seen.append(event)
            if event.get("event") == name:
                return seen
    raise AssertionError(f"phone never reported {name}: {seen}")


def start_box(tmp: Path, extensions: dict[str, str] | None = None, data: Path | None = None,
              web: bool = False) -> Box:
    """Start ``smallpbx run`` with its log in ``tmp``; ``data`` to restart an existing box;
    ``web`` to serve the setup page too (on ``box.web_port``)."""
    tmp.mkdir(parents=True, exist_ok=True)
    data = data or tmp / "data"
    base = free_port_block(size=5)
    box = Box(data=data, sip_port=base, internal_port=base + 1, core_port=base + 2, trunk_port=base + 3,
              web_port=base + 4 if web else 0,
              rtp_port=free_port_block(size=1, low=50000, high=58000), log_path=tmp / "box.log")
    for number, password in (extensions or {}).items():
        run_cli(data, "extension", "add", number, "--name", f"Phone {number}", "--password", password)
        box.passwords[number] = password
    log = open(box.log_path, "w")
    box.proc = subprocess.Popen(
        smallpbx_cmd(data, "run", "--sip-port", str(box.sip_port), "--internal-port", str(box.internal_port),
                     "--core-port", str(box.core_port), "--rtp-port", str(box.rtp_port),
                     "--trunk-port", str(box.trunk_port), "--web-port", str(box.web_port)),
        stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = box.proc.stdout.readline()
        if line.startswith("READY"):
            return box
        if not line and box.proc.poll() is not None:
            break
    stop_box(box)
    raise AssertionError(f"box did not start:\n{box.log()[-3000:]}")


def stop_box(box: Box) -> int:
    if box.proc is None or box.proc.poll() is not None:
        return box.proc.returncode if box.proc else 0
    box.proc.send_signal(signal.SIGTERM)
    try:
        return box.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        box.proc.kill()
        box.proc.wait()
        raise AssertionError("box did not stop within 20 s of SIGTERM")


DEFAULT_EXTENSIONS = {"101": "Alice-pass-9x", "102": "Bob-pass-7yz", "103": "Carol-pass-5q"}


def wait_until(predicate, timeout: float, what: str, every: float = 0.2):
    """Poll ``predicate`` until it returns something true (returned) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def call_records(box: Box) -> list[dict]:
    """The box's call records, oldest first (sqlite, read directly)."""
    import sqlite3
    db = sqlite3.connect(box.data / "records.db")
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM calls ORDER BY id")]
    finally:
        db.close()
