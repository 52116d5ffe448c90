"""Login throttling per client address (in the web process's memory).

After ``max_failures`` failed logins from one address within ``window_s``,
the address is blocked for ``block_s``: every login from it is refused
with the same answer, right password or not, known user or not. A
success clears the address's count. The table is bounded (oldest entries
are dropped first), so a flood of addresses cannot grow it without limit.

A restart of the web service forgets the table; the scrypt cost of each
attempt still limits guessing to a few per second.

Thread-safe: one lock around the table (the WSGI server's threads share it).
Time is fed in through ``clock`` so tests do not sleep.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class _Entry:
    failures: list[float] = field(default_factory=list)
    blocked_until: float = 0.0


class LoginThrottle:
    def __init__(self, max_failures: int = 5, window_s: float = 600.0, block_s: float = 600.0,
                 *, clock: Callable[[], float] = time.monotonic, max_entries: int = 10000):
        self.max_failures = max_failures
        self.window_s = window_s
        self.block_s = block_s
        self.clock = clock
        self.max_entries = max_entries
        self._table: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def blocked_for(self, address: str) -> float:
        """Seconds the address stays blocked (0: it may try)."""
        with self._lock:
            entry = self._table.get(address)
            return max(0.0, entry.blocked_until - self.clock()) if entry else 0.0

    def failure(self, address: str) -> bool:
        """Count a failed login; True if the address is now blocked."""
        now = self.clock()
        with self._lock:
            entry = self._table.pop(address, None) or _Entry()
            self._table[address] = entry          # most recent last
            entry.failures = [t for t in entry.failures if now - t < self.window_s] + [now]
            if len(entry.failures) >= self.max_failures:
                entry.blocked_until = now + self.block_s
                entry.failures = []
            while len(self._table) > self.max_entries:
                self._table.popitem(last=False)
            return entry.blocked_until > now

    def success(self, address: str) -> None:
        with self._lock:
            self._table.pop(address, None)
