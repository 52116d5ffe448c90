"""Foundation benchmark: call setup, registration rate, core memory.

Prints one figure per line:
  call_setup_ms      INVITE->200 through Kamailio to the core (median, p99)
  registrations_per_s REGISTER with digest auth, sustained (SIPp)
  core_rss_kb        the core's resident memory idle and with 4 calls

Starts its own box on loopback (flood limit raised for the load), drives
it with SIPp and pjsua2 phones, and stops by itself: every loop is
bounded in count and time.

Usage: .venv/bin/python bench/foundation.py [--calls 200] [--registrations 3000]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import finish_phone, run_cli, start_box, stop_box, wait_for_event  # noqa: E402
from sipclient import RawSipClient  # noqa: E402

SIPP = ROOT / "tests" / "sipp"
EXTENSIONS = {"101": "Alice-pass-9x", "102": "Bob-pass-7yz", "103": "Carol-pass-5q", "104": "Dave-pass-3w"}


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def users_file(tmp: Path, dialed: str = "") -> Path:
    path = tmp / f"users{dialed.replace('*', 's')}.csv"
    rows = [f"{u};[authentication username={u} password={p}];{dialed}" for u, p in EXTENSIONS.items()]
    path.write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n")
    return path


SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.8.1\r\ns=-\r\nc=IN IP4 127.0.8.1\r\nt=0 0\r\n"
       "m=audio 49170 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\n")


box_call_rate = 10  # settings.core_call_rate default


def bench_call_setup(box, tmp: Path, calls: int) -> None:
    """INVITE->200 timed with a monotonic clock around the authenticated INVITE.

    (SIPp's own rtd has 1 ms ticks that read 4 ms for every call here, too
    coarse for a figure; SIPp still drives the registration load below.)
    """
    samples = []
    next_at = 0.0
    ruri = f"sip:*43@{box.proxy}"
    users = list(EXTENSIONS.items())
    deadline = time.monotonic() + 120
    interval = 1.0 / (box_call_rate - 1)  # stay under the edge's limit
    with RawSipClient(("127.0.0.1", box.sip_port), local_ip="127.0.8.1", timeout=5) as c:
        for user, password in users:  # only registered phones may call
            c.register(user, password, expires=600)
        for i in range(calls):
            if time.monotonic() > deadline:
                break
            user, password = users[i % len(users)]
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = time.monotonic() + interval
            call_id = f"bench-{i}-{time.monotonic_ns()}"
            challenge = c.exchange(c.request("INVITE", ruri, user, call_id=call_id, to_user="*43", body=SDP))
            if challenge is None or challenge.status != 407:
                continue
            auth = c.authorization(challenge, "INVITE", ruri, user, password, header="Proxy-Authorization")
            invite = c.request("INVITE", ruri, user, call_id=call_id, cseq=2, extra=auth, to_user="*43", body=SDP)
            started = time.perf_counter()
            c.send(invite)
            ok = c.receive()
            elapsed = time.perf_counter() - started
            if ok is None or ok.status != 200:
                continue
            samples.append(elapsed * 1000)
            c.send(c.in_dialog(ok, "ACK", 2))
            c.exchange(c.in_dialog(ok, "BYE", 3))
    if len(samples) < calls:
        print(f"call_setup_ms ERROR only {len(samples)} of {calls} calls were set up")
    if samples:
        print(f"call_setup_ms median={statistics.median(samples):.2f} p99={percentile(samples, 99):.2f} "
              f"max={max(samples):.2f} calls={len(samples)}")


def bench_registrations(box, tmp: Path, count: int) -> None:
    """SIPp registers the 4 extensions over and over, as fast as the box answers."""
    screen = tmp / "register_screen.log"
    cmd = ["sipp", "-sf", str(SIPP / "register.xml"), "-inf", str(users_file(tmp)),
           "-m", str(count), "-r", "20000", "-l", "200", "-i", "127.0.8.2", "-p", "0",
           "-timeout", "120s", "-nostdin", "-trace_screen", "-screen_file", str(screen), box.proxy]
    started = time.monotonic()
    subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=tmp)
    elapsed = time.monotonic() - started
    text = screen.read_text() if screen.exists() else ""
    ok = _screen_count(text, "Successful call")
    failed = _screen_count(text, "Failed call")
    print(f"registrations_per_s {ok / elapsed:.0f} ({ok} in {elapsed:.2f} s incl. SIPp start, {failed} failed)")


def _screen_count(text: str, label: str) -> int:
    for line in text.splitlines():
        if line.strip().startswith(label):
            return int(line.split("|")[-1].strip() or line.split()[-1])
    return 0


def core_pid(box) -> int:
    out = subprocess.run(["pgrep", "-f", f"firmware --data {box.data} core"], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def bench_memory(box, tmp: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from audio import noise_signal, write_wav

    pid = core_pid(box)
    idle = rss_kb(pid)
    sent = write_wav(tmp / "noise.wav", noise_signal(8, seed=1))
    phones = [box.phone(u, "--call", f"sip:*43@{box.proxy}", "--play", str(sent), "--duration", "6",
                        background=True) for u in list(EXTENSIONS)[:4]]
    for phone in phones:
        wait_for_event(phone, "media")
    time.sleep(2)
    in_calls = len(box.status()["calls"])
    busy = rss_kb(pid)
    for phone in phones:
        finish_phone(phone)
    print(f"core_rss_kb idle={idle} with_{in_calls}_calls={busy}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--registrations", type=int, default=3000)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smallpbx-bench-") as tmp_name:
        if "--keep" in sys.argv: tmp_name = tempfile.mkdtemp(prefix="smallpbx-bench-keep-")
        tmp = Path(tmp_name)
        run_cli(tmp / "data", "settings", "set", "flood_limit", "100000")
        box = start_box(tmp, EXTENSIONS)
        try:
            time.sleep(1)
            bench_memory(box, tmp)
            bench_call_setup(box, tmp, args.calls)
            bench_registrations(box, tmp, args.registrations)
        finally:
            stop_box(box)
    return 0


if __name__ == "__main__":
    sys.exit(main())
