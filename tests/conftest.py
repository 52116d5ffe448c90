"""Shared fixtures: ``box``, a real box on loopback for a test module.

The helpers behind it live in ``boxtools.py``; this file only puts tests/
on the import path (for ``boxtools``, ``audio``, ``sipclient``) and
defines the fixtures.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from boxtools import DEFAULT_EXTENSIONS, start_box, stop_box  # noqa: E402


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """One running box per test module, with extensions 101-103."""
    if not shutil.which("kamailio") and not os.path.exists("/usr/sbin/kamailio"):
        pytest.fail("kamailio is not installed: run scripts/test.sh, which installs it")
    tmp = tmp_path_factory.mktemp("box")
    b = start_box(tmp, DEFAULT_EXTENSIONS)
    yield b
    code = stop_box(b)
    log = b.log()
    assert code == 0, f"box exited {code} on SIGTERM:\n{log[-3000:]}"
    assert "Traceback" not in log, log[-5000:]
    assert "Aborted" not in log and "core dumped" not in log, log[-3000:]
