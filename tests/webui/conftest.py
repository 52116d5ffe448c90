"""Fixtures for the web app: a fresh box data directory, the app and its
test client, and a stand-in core listening on the control socket."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Under a bare `pytest` the repository root is not on sys.path; the web
# package is imported from it (the editable install finds it too).
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from web import create_app  # noqa: E402
from webtools import FakeCore  # noqa: E402


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def sock_path(tmp_path) -> Path:
    return tmp_path / "core.sock"


@pytest.fixture
def app(data_dir, sock_path):
    return create_app(data_dir, testing=True, control_socket=sock_path)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def fake_core(sock_path):
    core = FakeCore(sock_path)
    core.server.start()
    yield core
    core.server.close()
