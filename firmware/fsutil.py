"""Crash-safe file writes: temp file, fsync, rename, fsync the directory.

A reader (or a box that lost power) sees the old file or the new one,
never a mix. Temp files carry a fixed prefix so start-up can sweep the
leftovers of a write that was killed half-way (:func:`sweep_temp_files`).
"""
from __future__ import annotations

import os
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o640) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves old or new."""
    path = Path(path)
    tmp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int = 0o640) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def sweep_temp_files(directory: Path) -> list[Path]:
    """Delete temp files a killed writer left behind; return what went."""
    removed = []
    directory = Path(directory)
    if not directory.is_dir():
        return removed
    for entry in directory.iterdir():
        if entry.name.startswith(TEMP_PREFIX) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
