"""A SIP trunk to a provider, with SIPp as the provider on loopback.

The provider (tests/sipp/provider.xml) challenges the box's REGISTER and
INVITE with digests and refuses wrong ones; it echoes RTP, so audio that
goes out through the trunk comes back. Its calls to the box
(provider_call.xml) come from its own address; the same INVITE from any
other address is refused.
"""
import json
import subprocess
from pathlib import Path

import pytest

from audio import found_anywhere, noise_signal, read_wav, write_wav
from boxtools import (
    DEFAULT_EXTENSIONS, finish_phone, free_port_block, run_cli, start_box, stop_box,
    wait_for_event, wait_until, call_records)

SIPP_DIR = Path(__file__).resolve().parent.parent / "sipp"
PROVIDER_IP = "127.0.7.1"
USER, PASSWORD = "shop", "trunk-secret-42"
GATEWAY_IP = "127.0.7.2"


def _provider(tmp_path, port, media_port, password=PASSWORD):
    return subprocess.Popen(
        ["sipp", "-sf", str(SIPP_DIR / "provider.xml"), "-i", PROVIDER_IP, "-p", str(port),
         "-mi", PROVIDER_IP, "-mp", str(media_port), "-rtp_echo", "-set", "user", USER, "-set", "pass", password,
         "-nostdin", "-trace_err", "-error_file", str(tmp_path / "provider_err.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)


def _trunk(box):
    return next(l for l in box.status()["lines"] if l["name"] == "trunk1")


@pytest.fixture(scope="module")
def trunkbox(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trunk")
    port, media = free_port_block(size=1, low=31000, high=39000), free_port_block(size=4, low=41000, high=49000)
    provider = _provider(tmp, port, media)
    box = start_box(tmp, {**DEFAULT_EXTENSIONS, "201": "Agent-one-pass"})
    tables = {
        "routes": [{"number": "600", "target": "queue:sales"}, {"number": "601", "target": "menu:gw"}],
        "menus": [{"id": "gw", "prompt": "welcome", "choices": {"1": "hangup"}, "operator": "hangup",
                   "timeout_s": 8}],
        "queues": [{"id": "sales", "members": ["201"], "strategy": "rrmemory", "ring_timeout_s": 8,
                    "wrapup_s": 0, "failover": "hangup", "join_empty": True}],
        "lines": [{"id": "trunk1", "kind": "sip", "server": f"{PROVIDER_IP}:{port}", "username": USER,
                   "password": PASSWORD, "route": "600"},
                  # An FXO gateway on the LAN: a peer, known by its address, no registration.
                  {"id": "gw1", "kind": "sip", "server": f"{GATEWAY_IP}:5060", "username": "fxo",
                   "register": False, "allow_from": [GATEWAY_IP], "route": "601"}],
        "outbound_routes": [{"id": "out", "patterns": ["_0X."], "lines": ["trunk1"], "strip": 1}],
    }
    (tmp / "t.json").write_text(json.dumps(tables))
    run_cli(box.data, "callcenter", "load", str(tmp / "t.json"))
    box.provider_port = port
    yield box
    code = stop_box(box)
    provider.terminate()
    provider.wait(10)
    assert code == 0
    assert "Traceback" not in box.log(), box.log()[-4000:]


def test_trunk_registers_with_its_digest(trunkbox):
    wait_until(lambda: _trunk(trunkbox)["state"] == "up", 15, "the trunk to register")
    assert "trunk1" in trunkbox.cli("lines").stdout


def test_wrong_password_leaves_the_trunk_down(tmp_path):
    port, media = free_port_block(size=1, low=31000, high=39000), free_port_block(size=4, low=41000, high=49000)
    provider = _provider(tmp_path, port, media, password="the-provider-expects-this")
    box = start_box(tmp_path, DEFAULT_EXTENSIONS)
    try:
        tables = {"routes": [{"number": "600", "target": "hangup"}],
                  "lines": [{"id": "trunk1", "kind": "sip", "server": f"{PROVIDER_IP}:{port}", "username": USER,
                             "password": "not-what-it-expects", "route": "600"}]}
        (tmp_path / "t.json").write_text(json.dumps(tables))
        run_cli(box.data, "callcenter", "load", str(tmp_path / "t.json"))
        line = wait_until(lambda: (l := _trunk(box))["state"] == "down" and l, 15, "the refusal")
        assert "403" in line["detail"]
    finally:
        assert stop_box(box) == 0
        provider.terminate()
        provider.wait(10)


def test_extension_calls_out_through_the_trunk_and_hears_the_far_end(trunkbox, tmp_path):
    box = trunkbox
    wait_until(lambda: _trunk(box)["state"] == "up", 15, "the trunk")
    before = len(call_records(box))
    signal = noise_signal(6, seed=61)
    result = box.phone("101", "--call", f"sip:013912345678@{box.proxy}", "--duration", "5", "--wait", "20",
                       "--play", str(write_wav(tmp_path / "say.wav", signal)),
                       "--record", str(tmp_path / "heard.wav"))
    assert result.last("done")["answered"], result.events
    # The provider echoes RTP: the phone hears itself back through the trunk.
    assert found_anywhere(signal, read_wav(tmp_path / "heard.wav"), 1, seconds=4) > 0.7
    [rec] = wait_until(lambda: call_records(box)[before:], 5, "the call record")
    assert (rec["caller"], rec["line"], rec["dialed"], rec["disposition"]) == \
        ("101", "trunk1", "13912345678", "answered")


def test_provider_call_reaches_the_queue_and_the_agent(trunkbox, tmp_path):
    box = trunkbox
    wait_until(lambda: _trunk(box)["state"] == "up", 15, "the trunk")
    box.cli("agent", "login", "201")
    before = len(call_records(box))
    signal = noise_signal(9, seed=62)
    agent = box.phone("201", "--answer", "--wait", "25", "--duration", "15",   # the caller hangs up first
                      "--play", str(write_wav(tmp_path / "agent.wav", signal)),
                      "--record", str(tmp_path / "agent_heard.wav"), background=True)
    wait_for_event(agent, "ready")
    users = tmp_path / "callers.csv"
    users.write_text("SEQUENTIAL\n13800138000;\n")
    media = free_port_block(size=4, low=41000, high=49000)
    call = subprocess.run(
        ["sipp", "-sf", str(SIPP_DIR / "provider_call.xml"), "-inf", str(users), "-m", "1", "-d", "9000",
         "-i", PROVIDER_IP, "-p", "0", "-mi", PROVIDER_IP, "-mp", str(media), "-rtp_echo",
         "-timeout", "30s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", str(tmp_path / "err.log"),
         f"127.0.0.1:{box.trunk_port}"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert call.returncode == 0, (tmp_path / "err.log").read_text() if (tmp_path / "err.log").exists() else ""
    result = finish_phone(agent)
    assert result.last("done")["answered"]
    # The caller (SIPp) echoes: the agent hears its own voice back through the
    # trunk. Any one second of five is enough (a loaded host may drop packets).
    assert found_anywhere(signal, read_wav(tmp_path / "agent_heard.wav"), 1, seconds=5) > 0.7
    [rec] = wait_until(lambda: call_records(box)[before:], 5, "the call record")
    assert (rec["caller"], rec["line"], rec["agent"], rec["disposition"]) == \
        ("13800138000", "trunk1", "201", "answered")
    box.cli("agent", "logout", "201")


def test_a_call_from_anyone_but_the_provider_is_refused(trunkbox, tmp_path):
    box = trunkbox
    users = tmp_path / "callers.csv"
    users.write_text("SEQUENTIAL\n13800138000;\n")
    call = subprocess.run(
        ["sipp", "-sf", str(SIPP_DIR / "provider_call.xml"), "-inf", str(users), "-m", "1", "-d", "1000",
         "-i", "127.0.7.9", "-p", "0", "-timeout", "10s", "-timeout_error", "-nostdin",
         "-trace_err", "-error_file", str(tmp_path / "err.log"), f"127.0.0.1:{box.trunk_port}"],
        capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert call.returncode != 0
    assert "403" in (tmp_path / "err.log").read_text()
    assert "SECURITY: INVITE from 127.0.7.9" in box.log()


def test_an_fxo_gateway_peer_delivers_a_call_without_registering(trunkbox, tmp_path):
    box = trunkbox
    gw = next(l for l in box.status()["lines"] if l["name"] == "gw1")
    assert gw["state"] == "up" and "no registration" in gw["detail"]
    before = len(call_records(box))
    users = tmp_path / "callers.csv"
    users.write_text("SEQUENTIAL\n02155556666;\n")
    call = subprocess.run(
        ["sipp", "-sf", str(SIPP_DIR / "provider_call.xml"), "-inf", str(users), "-m", "1", "-d", "2000",
         "-i", GATEWAY_IP, "-p", "0", "-timeout", "20s", "-timeout_error", "-nostdin",
         "-trace_err", "-error_file", str(tmp_path / "err.log"), f"127.0.0.1:{box.trunk_port}"],
        capture_output=True, text=True, timeout=40, cwd=tmp_path)
    assert call.returncode == 0, (tmp_path / "err.log").read_text() if (tmp_path / "err.log").exists() else ""
    [rec] = wait_until(lambda: call_records(box)[before:], 5, "the call record")
    assert (rec["caller"], rec["line"], rec["route"]) == ("02155556666", "gw1", "menu:gw")
