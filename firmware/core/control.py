"""The core's control socket: a local Unix socket for live state and actions.

Protocol: one JSON object per line each way.
Request ``{"cmd": "status", "args": {...}}``; reply ``{"ok": true,
"result": ...}`` or ``{"ok": false, "error": "..."}``. Commands are listed
in docs/architecture.md. The socket is mode 0660: root and the box's
group (the web service) may use it, nobody else.

Threads: the server accepts on its own thread and serves each connection
on a short-lived thread; handlers must not touch pjsua2 (they post to the
engine instead).
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Callable

from firmware.errors import ControlError, SmallPbxError

log = logging.getLogger(__name__)

MAX_REQUEST = 65536

# The core's exit status when it was asked to restart (EX_TEMPFAIL): the
# box's supervisor and systemd (RestartForceExitStatus) start it again.
RESTART_EXIT_STATUS = 75
RESTART_WHEN = ("now", "idle", "cancel")


class ControlServer:
    def __init__(self, path: Path, handler: Callable[[str, dict], object]):
        self.path = Path(path)
        self.handler = handler
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o117)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old_umask)
        sock.listen(16)
        sock.settimeout(0.5)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, name="control", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout=2)
            self._thread = None
        if self._sock:
            self._sock.close()
            self._sock = None
            self.path.unlink(missing_ok=True)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="control-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                line = _read_line(conn)
                request = json.loads(line)
                if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
                    raise ControlError("a request is {\"cmd\": name, \"args\": {...}}")
                args = request.get("args") or {}
                if not isinstance(args, dict):
                    raise ControlError("args must be an object")
                reply = {"ok": True, "result": self.handler(request["cmd"], args)}
            except (ValueError, SmallPbxError) as exc:
                reply = {"ok": False, "error": str(exc)}
            except Exception as exc:  # a bug in one command must not kill the server
                log.exception("control command failed")
                reply = {"ok": False, "error": f"internal error: {exc}"}
            try:
                conn.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                pass


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ControlError("request too long")
    return data.split(b"\n", 1)[0]


class ControlClient:
    """Talks to a running core. Raises :class:`ControlError` if it can't."""

    def __init__(self, path: Path, *, timeout: float = 10.0):
        self.path = Path(path)
        self.timeout = timeout

    def request(self, cmd: str, **args):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(str(self.path))
                sock.sendall(json.dumps({"cmd": cmd, "args": args}).encode() + b"\n")
                line = _read_line(sock)
        except OSError as exc:
            raise ControlError(f"the core is not reachable at {self.path}: {exc}") from exc
        try:
            reply = json.loads(line)
        except ValueError as exc:
            raise ControlError("the core sent a malformed reply") from exc
        if not reply.get("ok"):
            raise ControlError(reply.get("error", "request failed"))
        return reply.get("result")
