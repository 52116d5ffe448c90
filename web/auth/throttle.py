"""Login throttling (in the web process's memory), per client address and
per user name.

**Per address.** After ``max_failures`` failed logins from one address
within ``window_s``, the address is blocked for ``block_s``: every login
from it is refused with the same answer, right password or not, known user
or not. A success clears only the failures of *that* user name from that
address: logging in with an account one knows (an agent's) does not wipe
out the guesses at another one (the owner's).

**Per user name.** After ``user_max_failures`` failures for one user name
within ``user_window_s`` (from any addresses: a guesser spreading over many),
logins with that name are refused for ``user_block_s`` — but only from
addresses that never logged in with that name. The owner's own computer
keeps working, so a guesser cannot lock the owner out; it still answers to
the per-address rule. Unknown names are counted and blocked exactly like
known ones (nothing tells which names exist); only a success, which needs
the right password, marks an address as known for a name.

The tables are bounded (oldest entries are dropped first), so a flood of
addresses or names cannot grow them without limit. A restart of the web
service forgets them; the scrypt cost of each attempt still limits guessing
to a few per second.

Thread-safe: one lock around the tables (the WSGI server's threads share
them). Time is fed in through ``clock`` so tests do not sleep.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

#: How many addresses are remembered as "logged in before" per user name.
KNOWN_ADDRESSES = 16


@dataclass
class _Entry:
    failures: list[tuple[float, str]] = field(default_factory=list)     # (time, user name)
    blocked_until: float = 0.0


class LoginThrottle:
    def __init__(self, max_failures: int = 5, window_s: float = 600.0, block_s: float = 600.0,
                 *, user_max_failures: int = 10, user_window_s: float = 3600.0, user_block_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic, max_entries: int = 10000):
        self.max_failures = max_failures
        self.window_s = window_s
        self.block_s = block_s
        self.user_max_failures = user_max_failures
        self.user_window_s = user_window_s
        self.user_block_s = user_block_s
        self.clock = clock
        self.max_entries = max_entries
        self._table: OrderedDict[str, _Entry] = OrderedDict()
        self._users: OrderedDict[str, _Entry] = OrderedDict()
        self._known: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(username) -> str:
        return username[:64] if isinstance(username, str) else ""

    def blocked_for(self, address: str) -> float:
        """Seconds the address stays blocked (0: it may try)."""
        with self._lock:
            entry = self._table.get(address)
            return max(0.0, entry.blocked_until - self.clock()) if entry else 0.0

    def user_blocked_for(self, username: str, address: str) -> float:
        """Seconds logins as ``username`` stay refused from ``address`` (0: it may try).

        Never for an address that logged in with this name before.
        """
        name = self._key(username)
        with self._lock:
            if address in self._known.get(name, ()):
                return 0.0
            entry = self._users.get(name)
            return max(0.0, entry.blocked_until - self.clock()) if entry else 0.0

    def _count(self, table: OrderedDict, key: str, username: str, now: float, window_s: float,
               max_failures: int, block_s: float) -> bool:
        entry = table.pop(key, None) or _Entry()
        table[key] = entry                                   # most recent last
        entry.failures = [f for f in entry.failures if now - f[0] < window_s] + [(now, username)]
        if len(entry.failures) >= max_failures:
            entry.blocked_until = now + block_s
            entry.failures = []
        while len(table) > self.max_entries:
            table.popitem(last=False)
        return entry.blocked_until > now

    def failure(self, address: str, username: str = "") -> bool:
        """Count a failed login; True if the address (or the name, from this address) is now blocked."""
        now = self.clock()
        name = self._key(username)
        with self._lock:
            by_address = self._count(self._table, address, name, now, self.window_s, self.max_failures,
                                     self.block_s)
            by_name = self._count(self._users, name, name, now, self.user_window_s, self.user_max_failures,
                                  self.user_block_s)
            return by_address or (by_name and address not in self._known.get(name, ()))

    def success(self, address: str, username: str = "") -> None:
        """A login with the right password: forget this name's failures from this address, and
        remember the address as one this name logs in from. Nothing else is cleared."""
        name = self._key(username)
        with self._lock:
            entry = self._table.get(address)
            if entry is not None:
                entry.failures = [f for f in entry.failures if f[1] != name]
            known = self._known.pop(name, None) or OrderedDict()
            self._known[name] = known
            known.pop(address, None)
            known[address] = None
            while len(known) > KNOWN_ADDRESSES:
                known.popitem(last=False)
            while len(self._known) > self.max_entries:
                self._known.popitem(last=False)
