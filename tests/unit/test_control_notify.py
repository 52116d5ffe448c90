import json
import socket

import pytest

from firmware.core.control import ControlClient, ControlServer
from firmware.core.sdnotify import Notifier
from firmware.errors import ControlError


@pytest.fixture
def server(tmp_path):
    calls = []

    def handler(cmd, args):
        calls.append((cmd, args))
        if cmd == "boom":
            raise RuntimeError("bug")
        if cmd == "bad":
            raise ControlError("refused")
        return {"echo": args}

    srv = ControlServer(tmp_path / "core.sock", handler)
    srv.start()
    yield srv, calls
    srv.close()
    srv.close()  # safe twice


def test_request_and_reply(server):
    srv, calls = server
    client = ControlClient(srv.path)
    assert client.request("status", verbose=True) == {"echo": {"verbose": True}}
    assert calls == [("status", {"verbose": True})]
    assert oct(srv.path.stat().st_mode & 0o777) == "0o660"


def test_errors_come_back_as_errors_and_the_server_lives_on(server):
    srv, _ = server
    client = ControlClient(srv.path)
    with pytest.raises(ControlError, match="refused"):
        client.request("bad")
    with pytest.raises(ControlError, match="internal error"):
        client.request("boom")
    for garbage in (b"not json\n", b"[1,2]\n", b'{"cmd": 5}\n', b'{"cmd": "x", "args": 3}\n', b"\n"):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(srv.path))
            s.sendall(garbage)
            reply = json.loads(s.makefile().readline())
            assert reply["ok"] is False
    assert client.request("status") == {"echo": {}}


def test_client_without_server_raises(tmp_path):
    with pytest.raises(ControlError, match="not reachable"):
        ControlClient(tmp_path / "none.sock").request("ping")


def test_notifier_speaks_sd_notify(tmp_path):
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        listener.settimeout(1)
        n = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "30000000"})
        assert n.watchdog_interval == 10.0
        n.ready("4 call slots")
        assert listener.recv(100) == b"READY=1\nSTATUS=4 call slots"
        n.watchdog()
        assert listener.recv(100) == b"WATCHDOG=1"


def test_notifier_is_silent_outside_systemd():
    n = Notifier({})
    assert n.watchdog_interval is None
    n.ready()
    n.watchdog()
