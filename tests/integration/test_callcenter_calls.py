"""The call center with real phones: menu by DTMF, queue, agent, audio, records.

Callers and agents are separate pjsua2 processes registered through
Kamailio; the caller presses digits (RFC 2833), waits in the queue and is
bridged to an agent; audio is checked both ways against the signals each
side played, and the call record and live numbers against what happened.
"""
import json
import sqlite3
import time

import pytest

from audio import best_correlation, noise_signal, read_wav, write_wav
from conftest import DEFAULT_EXTENSIONS, finish_phone, run_cli, start_box, stop_box, wait_for_event

AGENTS = {"201": "Agent-one-pass", "202": "Agent-two-pass", "203": "Agent-three-pw"}
TABLES = {
    "routes": [{"number": "600", "target": "menu:main"}, {"number": "700", "target": "queue:sales"}],
    "menus": [{"id": "main", "prompt": "welcome", "choices": {"1": "queue:sales"}, "operator": "queue:sales",
               "timeout_s": 4}],
    "queues": [{"id": "sales", "members": ["201", "202", "203"], "strategy": "rrmemory",
                "ring_timeout_s": 6, "retry_s": 1, "wrapup_s": 1, "autopause_after": 2,
                "failover": "hangup", "join_empty": False}],
}


@pytest.fixture(scope="module")
def ccbox(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ccbox")
    box = start_box(tmp, {**DEFAULT_EXTENSIONS, **AGENTS})
    tables = tmp / "callcenter.json"
    tables.write_text(json.dumps(TABLES))
    run_cli(box.data, "callcenter", "load", str(tables))
    yield box
    code = stop_box(box)
    log = box.log()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log and "Aborted" not in log, log[-5000:]


def _records(box):
    db = sqlite3.connect(box.data / "records.db")
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM calls ORDER BY id")]
    db.close()
    return rows


def _agent(box, ext, *args, **kw):
    return box.phone(ext, "--answer", "--wait", "25", *args, background=True, **kw)


def test_caller_navigates_menu_queues_and_talks_to_an_agent(ccbox, tmp_path):
    box = ccbox
    assert "available" in box.cli("agent", "login", "201").stdout
    sig_caller, sig_agent = noise_signal(12, seed=31), noise_signal(4, seed=32)
    agent = _agent(box, "201", "--play", str(write_wav(tmp_path / "agent.wav", sig_agent)),
                   "--record", str(tmp_path / "agent_heard.wav"), "--duration", "5")
    wait_for_event(agent, "ready")
    caller = box.phone("101", "--call", f"sip:600@{box.proxy}", "--dtmf", "1", "--dtmf-delay", "1.5",
                       "--play", str(write_wav(tmp_path / "caller.wav", sig_caller)),
                       "--record", str(tmp_path / "caller_heard.wav"), "--duration", "9", "--wait", "20")
    agent_result = finish_phone(agent)
    assert caller.last("done")["answered"] and agent_result.last("done")["answered"]
    # The caller heard the welcome prompt and hold music, then the agent from the
    # moment of the bridge; the agent heard the caller from then on.
    caller_got = read_wav(tmp_path / "caller_heard.wav")
    agent_got = read_wav(tmp_path / "agent_heard.wav")
    assert best_correlation(sig_agent[: 2 * 8000], caller_got, max_lag_s=9)[0] > 0.7, "caller did not hear the agent"
    assert best_correlation(sig_caller[5 * 8000: 7 * 8000], agent_got, max_lag_s=5)[0] > 0.7, \
        "agent did not hear the caller"
    assert best_correlation(noise_signal(2, seed=99), agent_got, max_lag_s=5)[0] < 0.3
    time.sleep(0.5)
    [rec] = [r for r in _records(box) if r["caller"] == "101"]
    assert rec["queue"] == "sales" and rec["agent"] == "201" and rec["disposition"] == "answered"
    assert json.loads(rec["ivr_choices"]) == ["1"] and rec["route"] == "menu:main"
    assert rec["talk_s"] > 1 and rec["wait_s"] >= 0
    today = box.status()["callcenter"]["today"][0]
    assert (today["offered"], today["answered"], today["abandoned"]) == (1, 1, 0)
    box.cli("agent", "logout", "201")
