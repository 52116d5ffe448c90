"""The shipped systemd units pass ``systemd-analyze verify`` with no output.

``verify`` exits 0 even on typos, so any line it prints fails the test.
ExecStart points at the install path on the Pi (/opt/smallpbx); here it is
pointed at this checkout's smallpbx so the executable check is real.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "systemd").glob("*.service")) + sorted((ROOT / "systemd").glob("*.target"))
INSTALLED = "/opt/smallpbx/venv/bin/smallpbx"

pytestmark = pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze missing")


def _verify(unit_dir: Path) -> str:
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *sorted(map(str, unit_dir.iterdir()))],
                            capture_output=True, text=True, timeout=60, cwd=unit_dir)
    return (result.stdout + result.stderr).strip()


def _copy_units(tmp_path: Path) -> Path:
    here = Path(sys.executable).parent / "smallpbx"
    assert here.exists(), "smallpbx is not installed in this virtualenv"
    out = tmp_path / "units"
    out.mkdir()
    for unit in UNITS:
        text = unit.read_text()
        assert INSTALLED in text or unit.suffix == ".target"
        (out / unit.name).write_text(text.replace(INSTALLED, str(here)))
    return out


def test_units_verify_cleanly(tmp_path):
    assert {u.name for u in UNITS} >= {"smallpbx-core.service", "smallpbx-kamailio.service", "smallpbx.target"}
    output = _verify(_copy_units(tmp_path))
    assert output == "", output


def test_the_check_can_fail(tmp_path):
    units = _copy_units(tmp_path)
    core = units / "smallpbx-core.service"
    core.write_text(core.read_text().replace("Restart=on-failure", "Restrat=on-failure"))
    assert "Restrat" in _verify(units)


def test_core_unit_has_the_promised_properties():
    text = (ROOT / "systemd" / "smallpbx-core.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "ProtectSystem=strict",
                 "SupplementaryGroups=dialout audio gpio i2c"):
        assert line in text
    assert "\nPrivateDevices=yes" not in text  # it would hide the modem
    # A restart asked from the setup page: the core exits with this status and systemd starts it again.
    from firmware.core.control import RESTART_EXIT_STATUS
    assert f"RestartForceExitStatus={RESTART_EXIT_STATUS}" in text and f"SuccessExitStatus={RESTART_EXIT_STATUS}" in text
