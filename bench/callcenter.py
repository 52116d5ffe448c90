"""Call-center latencies, measured on loopback against a real box.

Prints one figure per line:
  agent_available_to_offer_ms  an agent unpauses (control socket) -> the INVITE
                               offering the waiting caller reaches the agent's phone
  answer_to_first_prompt_ms    the box's 200 OK -> the first non-silent RTP
                               packet of the menu prompt at the caller

Both ends are raw sockets so the timestamps are taken where the packets
arrive. Bounded: --samples each, and every wait has a timeout.
Usage: .venv/bin/python bench/callcenter.py [--samples 50]
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from conftest import run_cli, start_box, stop_box  # noqa: E402
from sipclient import RawSipClient  # noqa: E402

from firmware.core.control import ControlClient  # noqa: E402

USERS = {"101": "Caller-pass-x1", "201": "Agent-pass-aaa"}
TABLES = {"routes": [{"number": "600", "target": "menu:main"}, {"number": "700", "target": "queue:sales"}],
          "menus": [{"id": "main", "prompt": "welcome", "choices": {"1": "queue:sales"},
                     "operator": "queue:sales", "direct_dial": False}],
          "queues": [{"id": "sales", "members": ["201"], "ring_timeout_s": 30, "retry_s": 0,
                      "autopause_after": 0, "wrapup_s": 0, "join_empty": True, "leave_when_empty": False,
                      "max_wait_s": 0, "announce_every_s": 0}]}


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"median={statistics.median(ordered):.2f} p99={p99:.2f} n={len(ordered)}"


def sdp(ip: str, port: int) -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")


def invite(c: RawSipClient, box, password: str, number: str, call_id: str, body: str):
    ruri = f"sip:{number}@{box.proxy}"
    challenge = c.exchange(c.request("INVITE", ruri, "101", call_id=call_id, to_user=number, body=body))
    auth = c.authorization(challenge, "INVITE", ruri, "101", password, header="Proxy-Authorization")
    c.send(c.request("INVITE", ruri, "101", call_id=call_id, cseq=2, extra=auth, to_user=number, body=body))
    return c.receive()


def bench_first_prompt(box, samples: int) -> None:
    results = []
    with RawSipClient(("127.0.0.1", box.sip_port), local_ip="127.0.10.1", timeout=5) as c:
        c.register("101", USERS["101"], expires=600)
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind(("127.0.10.1", 0))
        rtp.settimeout(3)
        for i in range(samples):
            time.sleep(0.15)  # stay under the edge's call rate
            ok = invite(c, box, USERS["101"], "600", f"prompt-{i}", sdp("127.0.10.1", rtp.getsockname()[1]))
            if ok is None or ok.status != 200:
                continue
            answered = time.perf_counter()
            c.send(c.in_dialog(ok, "ACK", 2))
            deadline = answered + 3
            while time.perf_counter() < deadline:
                try:
                    packet = rtp.recv(2048)
                except socket.timeout:
                    break
                payload = packet[12:]
                if any(b not in (0xD5, 0x55) for b in payload):  # A-law silence
                    results.append((time.perf_counter() - answered) * 1000)
                    break
            c.exchange(c.in_dialog(ok, "BYE", 3))
            while True:  # drain RTP left from this call
                rtp.settimeout(0.05)
                try:
                    rtp.recv(2048)
                except socket.timeout:
                    break
            rtp.settimeout(3)
        rtp.close()
    print(f"answer_to_first_prompt_ms {summary(results)}")


def bench_agent_offer(box, samples: int) -> None:
    control = ControlClient(box.data / "run" / "core.sock")
    results = []
    with RawSipClient(("127.0.0.1", box.sip_port), local_ip="127.0.10.2", timeout=5) as agent, \
            RawSipClient(("127.0.0.1", box.sip_port), local_ip="127.0.10.3", timeout=5) as caller:
        agent.register("201", USERS["201"], expires=600)
        caller.register("101", USERS["101"], expires=600)
        control.request("agent-login", extension="201")
        control.request("agent-pause", extension="201")
        ok = invite(caller, box, USERS["101"], "700", "waiting-caller", sdp("127.0.10.3", 49000))
        caller.send(caller.in_dialog(ok, "ACK", 2))
        agent.sock.settimeout(5)
        for _ in range(samples):
            started = time.perf_counter()
            control.request("agent-unpause", extension="201")
            data = b""
            while not data.startswith(b"INVITE"):
                data, _ = agent.sock.recvfrom(65535)
            results.append((time.perf_counter() - started) * 1000)
            control.request("agent-pause", extension="201")   # takes effect when the offer fails
            agent.send(_reply(data.decode(), 486, "Busy Here"))
            while True:  # the proxy's ACK for our 486
                packet, _ = agent.sock.recvfrom(65535)
                if packet.startswith(b"ACK"):
                    break
            time.sleep(0.1)
        caller.send(caller.in_dialog(ok, "BYE", 3))
    print(f"agent_available_to_offer_ms {summary(results)}")


def _reply(request: str, code: int, reason: str) -> str:
    head = request.split("\r\n\r\n", 1)[0].split("\r\n")
    keep = [h for h in head[1:] if h.split(":", 1)[0].strip().lower() in ("via", "v", "from", "f", "call-id",
                                                                         "i", "cseq", "record-route")]
    to = next(h for h in head[1:] if h.split(":", 1)[0].strip().lower() in ("to", "t"))
    return f"SIP/2.0 {code} {reason}\r\n" + "\r\n".join(keep) + f"\r\n{to};tag=bench\r\nContent-Length: 0\r\n\r\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smallpbx-ccbench-") as tmp_name:
        tmp = Path(tmp_name)
        run_cli(tmp / "data", "settings", "set", "flood_limit", "100000")
        box = start_box(tmp, USERS)
        try:
            (tmp / "t.json").write_text(json.dumps(TABLES))
            run_cli(box.data, "callcenter", "load", str(tmp / "t.json"))
            bench_agent_offer(box, args.samples)
            bench_first_prompt(box, args.samples)
        finally:
            stop_box(box)
    return 0


if __name__ == "__main__":
    sys.exit(main())
