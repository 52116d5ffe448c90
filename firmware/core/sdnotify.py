"""systemd's notify protocol (sd_notify) without a library.

Does nothing when the process was not started by systemd with
``Type=notify`` (no ``$NOTIFY_SOCKET``).
"""
from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, env=os.environ):
        self.address = env.get("NOTIFY_SOCKET")
        usec = env.get("WATCHDOG_USEC")
        # Ping at a third of the interval, as sd_watchdog_enabled(3) advises.
        self.watchdog_interval = int(usec) / 3e6 if usec and usec.isdigit() else None

    def _send(self, message: str) -> None:
        if not self.address:
            return
        address = self.address
        if address.startswith("@"):
            address = "\0" + address[1:]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.sendto(message.encode(), address)
            except OSError:
                pass

    def ready(self, status: str = "") -> None:
        self._send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1")

    def status(self, text: str) -> None:
        self._send(f"STATUS={text}")
