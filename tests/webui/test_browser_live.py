"""A live call on the dashboard: a SIPp caller waits in the queue, the page shows it.

The box is set up by the wizard (test client), the real box (Kamailio +
core) runs on that data, and the page is served by waitress. A SIPp
phone registers, calls the queue's number and holds; no agent answers, so
it waits. The open dashboard must show the caller waiting and the call in
progress without a reload, and show the queue empty again once SIPp hangs
up. Screenshot: docs/web/18-dashboard-caller-waiting.png.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from webtools import ADMIN, box_helpers, run_wizard

ROOT = Path(__file__).resolve().parents[2]
SIPP = ROOT / "tests" / "sipp"
# Screenshots refresh docs/web/ only when asked (SMALLPBX_SCREENSHOTS=1), so a
# test run leaves the tree clean; otherwise they go to a scratch folder.
SHOTS = (ROOT / "docs" / "web" if os.environ.get("SMALLPBX_SCREENSHOTS") == "1"
         else Path(os.environ.get("TMPDIR", "/tmp")) / "smallpbx-screenshots")
CHROMIUM = "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api")


def _sipp(scenario: str, users: Path, target: str, tmp: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["sipp", "-sf", str(SIPP / scenario), "-inf", str(users), "-m", "1", "-i", "127.0.4.1", "-p", "0",
         "-timeout", "40s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", str(tmp / f"{scenario}.err"),
         *extra, target], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp)


def test_a_waiting_caller_appears_on_the_open_dashboard(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    if not shutil.which("sipp") or not (shutil.which("kamailio") or os.path.exists("/usr/sbin/kamailio")):
        pytest.skip("sipp and kamailio are needed (scripts/test.sh installs them)")
    from firmware.config.store import ConfigStore
    from web import create_app
    from web.server import make_server, stop

    data = tmp_path / "data"
    client = create_app(data, testing=True).test_client()
    shown = run_wizard(client, extensions=(("201", "Ann"), ("202", "Bo")), web_login=False)
    store = ConfigStore(data)
    condition = store.callcenter_tables()["time_conditions"][0]["id"]
    store.set_override(condition, "open")          # the shop is open whatever the test's clock says
    tables = store.callcenter_tables()
    route = tables["routes"][0]["number"]
    for queue in tables["queues"]:
        queue["join_empty"] = True                 # nobody logged in: the caller waits
        queue["leave_when_empty"] = False
    tables["routes"][0]["target"] = f"queue:{tables['queues'][0]['id']}"   # straight to the queue
    store.replace_callcenter(tables)

    box = box_helpers().start_box(tmp_path / "box", data=data)
    server = make_server(data, "127.0.0.1", 0, control_socket=data / "run" / "core.sock")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    caller = None
    try:
        users = tmp_path / "users.csv"
        users.write_text(f"SEQUENTIAL\n201;[authentication username=201 password={shown['sip']['201']}];{route}\n")
        reg = _sipp("register.xml", users, box.proxy, tmp_path)
        assert reg.wait(30) == 0, reg.stderr.read()

        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(locale="en-US", viewport={"width": 1200, "height": 900})
            page.set_default_timeout(20000)
            base = f"http://127.0.0.1:{server.effective_port}"
            page.goto(base + "/login")
            page.fill("#username", ADMIN[0])
            page.fill("#password", ADMIN[1])
            page.click("button[type=submit]")
            page.wait_for_selector("#dashboard[data-core='up']")
            sync_api.expect(page.locator("#waiting-count")).to_have_text("0")

            caller = _sipp("invite_echo.xml", users, box.proxy, tmp_path, "-d", "12000")
            # The page polls: the caller shows up waiting, and as a call in progress.
            sync_api.expect(page.locator("#waiting-count")).to_have_text("1")
            row = page.locator("#waiting tr").first
            sync_api.expect(row).to_contain_text("201")
            sync_api.expect(page.locator("#calls")).to_contain_text("201")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "18-dashboard-caller-waiting.png"), full_page=True)
            assert caller.wait(40) == 0, (tmp_path / "invite_echo.xml.err").read_text(errors="replace")
            sync_api.expect(page.locator("#waiting-count")).to_have_text("0")
            browser.close()
    finally:
        if caller is not None and caller.poll() is None:
            caller.kill()
        stop(server)
        thread.join(5)
        assert box_helpers().stop_box(box) == 0
        assert "Traceback" not in box.log(), box.log()[-3000:]
