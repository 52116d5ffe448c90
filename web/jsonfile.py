"""Small JSON files the web process owns (``DATA/web/*.json``).

One writer at a time: :meth:`LockedJsonFile.update` holds an exclusive
``flock`` on ``<name>.lock`` for the whole read-modify-write, so two
threads of the WSGI server (or two web processes) never interleave.
Every write replaces the file atomically (``firmware.fsutil``), so a
crash leaves the old version or the new one. Readers take no lock.

Files are created mode 0600: they hold password hashes.
"""
from __future__ import annotations

import copy
import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from firmware.errors import StoreBusyError
from firmware.fsutil import TEMP_PREFIX, atomic_write_text

LOCK_TIMEOUT_S = 10.0


class LockedJsonFile:
    """A JSON object on disk with a one-writer lock.

    :param path: the file; its directory is created mode 0700.
    :param default: factory for the content of a file that does not exist yet.
    """

    def __init__(self, path: Path, default: Callable[[], dict]):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.default = default

    def prepare(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._locked():
            # Temp files of this file only: a writer of another file may be mid-write.
            for entry in self.path.parent.glob(f"{TEMP_PREFIX}{self.path.name}.*"):
                entry.unlink(missing_ok=True)

    def read(self) -> dict:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self.default()
        data = json.loads(text) if text.strip() else None
        return data if isinstance(data, dict) else self.default()

    @contextmanager
    def update(self) -> Iterator[dict]:
        """Yield the current content to change in place; written on exit.

        An exception inside the block writes nothing.
        """
        with self._locked():
            data = self.read()
            before = copy.deepcopy(data)
            yield data
            if data != before:
                atomic_write_text(self.path, json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1),
                                  mode=0o600)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreBusyError(f"{self.path.name} is locked by another writer") from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)
