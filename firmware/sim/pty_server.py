"""The emulated modem's serial cable: a pty pair and the thread serving it.

Owns: the pseudo-terminal pair (the slave is what the driver opens with
pyserial), the wake-up pipe, the output buffer, the timer heap and the one
server thread that reads and writes the master end. It knows nothing of AT
commands: bytes read are handed to ``receive``, then due timers run, then
``process`` is called, all under the owner's lock.

Threads and locks: the server thread is the only one that touches the pty.
Other threads queue output with :meth:`PtyServer.send` and timers with
:meth:`PtyServer.schedule` while holding the owner's lock (passed in); both
wake the server thread through the pipe. The lock is never held across a
blocking call: the master end is non-blocking and ``select`` runs unlocked.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import os
import select
import threading
import time
import tty
from typing import Callable

log = logging.getLogger(__name__)

IDLE_POLL = 0.5                         # longest select() when no timer is due


def open_raw_pty() -> tuple[int, int, str]:
    """A pty pair in raw mode (no line discipline until pyserial opens the
    slave), the master non-blocking.

    :returns: ``(master fd, slave fd, slave path)``.
    """
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


def close_fds(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def write_pending(fd: int, pending: bytearray, limit: int | None = None) -> None:
    """Write what the pty takes now; keep the rest (a dead pty drops it all)."""
    try:
        written = os.write(fd, bytes(pending[:limit]) if limit else bytes(pending))
    except BlockingIOError:
        return
    except OSError:
        pending.clear()
        return
    del pending[:written]


def poke(fd: int | None) -> None:
    """Wake a select() loop through its pipe."""
    if fd is None:
        return
    try:
        os.write(fd, b"!")
    except OSError:
        pass


class PtyServer:
    """Serves the master end of a pty from one thread.

    :param name: the thread's name.
    :param lock: the owner's lock, held while calling back and while
        ``send``/``schedule`` are called from other threads.
    :param receive: called with the bytes read (``b""`` when woken for
        another reason), before the timers run.
    :param process: called after the timers, to act on what was received.
    """

    def __init__(self, name: str, lock: threading.RLock, *,
                 receive: Callable[[bytes], None], process: Callable[[], None]):
        self.name = name
        self.path: str | None = None
        self.thread: threading.Thread | None = None
        self._lock = lock
        self._receive = receive
        self._process = process
        self._stop = threading.Event()
        self._master: int | None = None
        self._slave: int | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._out = bytearray()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def start(self) -> str:
        """Open the pty and start the thread; the caller holds the lock.

        :returns: the slave's path.
        """
        self._master, self._slave, self.path = open_raw_pty()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
        self.thread.start()
        return self.path

    def close(self) -> None:
        """Stop the thread and close the pty; the caller must not hold the lock."""
        self._stop.set()
        self._wake()
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        fds = (self._master, self._slave, self._wake_r, self._wake_w)
        self._master = self._slave = self._wake_r = self._wake_w = None
        close_fds(*fds)

    # -- called under the owner's lock, from any thread ------------------------------

    def send(self, data: bytes) -> None:
        """Queue bytes for the driver."""
        self._out += data
        if threading.current_thread() is not self.thread:
            self._wake()

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` in the server thread, under the lock, ``delay`` s from now."""
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), action))
        self._wake()

    def clear_timers(self) -> None:
        self._timers.clear()

    # -- the server thread -------------------------------------------------------------

    def _serve(self) -> None:
        master, wake = self._master, self._wake_r
        while not self._stop.is_set():
            with self._lock:
                timeout = self._next_timeout()
                want_write = bool(self._out)
            try:
                readable, writable, _ = select.select(
                    [master, wake], [master] if want_write else [], [], timeout)
            except (OSError, ValueError):
                break
            if wake in readable:
                try:
                    os.read(wake, 4096)
                except OSError:
                    pass
            data = b""
            if master in readable:
                try:
                    data = os.read(master, 4096)
                except BlockingIOError:
                    pass
                except OSError:             # EIO: nobody has the slave open
                    self._stop.wait(0.05)
            with self._lock:
                try:
                    self._receive(data)
                    self._run_timers()
                    self._process()
                except Exception:
                    log.exception("modem emulator failed handling input")
                if writable or self._out:
                    self._flush()

    def _flush(self) -> None:
        if self._master is not None:
            write_pending(self._master, self._out, limit=4096)

    def _wake(self) -> None:
        poke(self._wake_w)

    def _next_timeout(self) -> float:
        if not self._timers:
            return IDLE_POLL
        return min(IDLE_POLL, max(0.0, self._timers[0][0] - time.monotonic()))

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, action = heapq.heappop(self._timers)
            try:
                action()
            except Exception:
                log.exception("modem emulator timer failed")
