"""The web app against the real box (Kamailio + core, tests/conftest.py
start_box): what the wizard saved is what the core runs, and actions from
the API reach it over the control socket."""
from __future__ import annotations

import base64
import os
import shutil
import time

import pytest

from firmware.config.store import ConfigStore
from web import create_app
from webtools import box_helpers, run_wizard, token

pytestmark = pytest.mark.skipif(not (shutil.which("kamailio") or os.path.exists("/usr/sbin/kamailio")),
                                reason="kamailio is not installed (scripts/test.sh installs it)")


@pytest.fixture
def live(tmp_path):
    data = tmp_path / "data"
    app = create_app(data, testing=True)
    client = app.test_client()
    run_wizard(client)
    helpers = box_helpers()
    box = helpers.start_box(tmp_path / "box", data=data)
    yield client, box
    assert helpers.stop_box(box) == 0
    assert "Traceback" not in box.log(), box.log()[-3000:]


def test_the_core_runs_what_the_wizard_saved_and_obeys_the_api(live):
    client, box = live
    status = client.get("/api/status").json
    assert status["core"]["reachable"] is True
    assert [(q["id"], q["strategy"], q["waiting"]) for q in status["queues"]] == [("main", "leastrecent", 0)]
    assert {a["extension"]: a["state"] for a in status["agents"]} == {"201": "logged-out", "202": "logged-out"}
    headers = {"X-CSRFToken": token(client, "/")}
    assert client.post("/api/agents/201/login", headers=headers).json == {"extension": "201", "state": "available"}
    assert client.post("/api/agents/201/pause", json={"reason": "lunch"}, headers=headers).json["state"] == "paused"
    agents = {a["extension"]: a for a in client.get("/api/status").json["agents"]}
    assert agents["201"]["state"] == "paused" and agents["201"]["pause_reason"] == "lunch"
    assert agents["201"]["name"] == "Ann"
    # The CLI sees the same, from the core itself.
    assert "paused" in box.cli("status").stdout
    # Night mode from the dashboard goes through the core, which stores it.
    response = client.post("/api/time-conditions/hours/override", json={"mode": "closed"}, headers=headers)
    assert response.json == {"id": "hours", "override": "closed"}
    assert ConfigStore(box.data).callcenter_tables()["time_conditions"][0]["override"] == "closed"
    # A new extension is reloaded into Kamailio's credential table at once.
    added = client.post("/api/extensions", json={"number": "203", "name": "Cai"}, headers=headers).json
    assert added["applied"] is True
    deadline = time.monotonic() + 5
    table = box.data / "run" / "kamailio" / "db" / "subscriber"
    while ":203::" not in table.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ":203::" in table.read_text()
    panel = client.get("/api/panel").json
    assert base64.b64decode(panel["png_base64"]).startswith(b"\x89PNG")
    assert set(panel["leds"]) >= {"agents", "waiting", "fault"}
