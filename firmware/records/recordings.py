"""Call recordings on disk: one stereo WAV per call, caller left, agent right.

While a call is recorded, the engine writes two mono 8 kHz WAV parts
(``<uid>.caller.part.wav`` and ``<uid>.agent.part.wav``); when both are
closed they are merged into ``<uid>.wav`` and the parts deleted. A crash
leaves parts whose WAV headers still say "0 bytes": :meth:`Recordings.recover`
(run at start-up) rewrites the sizes from the file length and merges them,
so a recording interrupted by a crash is still a readable file.

Files live in ``DATA/recordings/YYYY-MM-DD/``. Retention deletes the
oldest first when they are older than ``keep_days`` or the folder is over
``max_bytes``. Nothing here touches pjsua2; merging runs off the owner
thread (it reads and writes whole files).
"""
from __future__ import annotations

import array
import logging
import os
import struct
import sys
import threading
import wave
from datetime import datetime
from pathlib import Path

from firmware.fsutil import fsync_dir

log = logging.getLogger(__name__)

PART_SUFFIXES = (".caller.part.wav", ".agent.part.wav")


def repair_wav(path: Path) -> None:
    """Make a canonical 44-byte-header PCM WAV's sizes match its length."""
    size = path.stat().st_size
    if size < 44:
        return
    with open(path, "r+b") as f:
        header = f.read(44)
        if header[:4] != b"RIFF" or header[8:16] != b"WAVEfmt " or header[36:40] != b"data":
            return
        data_len = size - 44
        data_len -= data_len % 2  # whole 16-bit samples only
        f.seek(4)
        f.write(struct.pack("<I", 36 + data_len))
        f.seek(40)
        f.write(struct.pack("<I", data_len))
        f.truncate(44 + data_len)


def _read_mono(path: Path | None) -> array.array:
    samples = array.array("h")
    if path is None or not path.exists():
        return samples
    repair_wav(path)
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                log.error("recording part %s is not 16-bit mono", path)
                return samples
            samples.frombytes(w.readframes(w.getnframes()))
    except (wave.Error, EOFError) as exc:
        log.error("recording part %s unreadable: %s", path, exc)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def merge_stereo(left: Path | None, right: Path | None, out: Path, rate: int = 8000) -> None:
    """Interleave two mono parts into one stereo WAV (the shorter padded with silence)."""
    a, b = _read_mono(left), _read_mono(right)
    n = max(len(a), len(b))
    a.extend([0] * (n - len(a)))
    b.extend([0] * (n - len(b)))
    stereo = array.array("h", [0]) * (2 * n)
    stereo[0::2] = a
    stereo[1::2] = b
    if sys.byteorder == "big":
        stereo.byteswap()
    tmp = out.with_name(out.name + ".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(stereo.tobytes())
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, out)
    fsync_dir(out.parent)
    for part in (left, right):
        if part is not None:
            part.unlink(missing_ok=True)


class Recordings:
    """The recordings folder.

    :param root: ``DATA/recordings``.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def parts_for(self, uid: str, arrived: float) -> tuple[Path, Path, str]:
        """Paths of the two parts, and the final file's name relative to root."""
        day = datetime.fromtimestamp(arrived).strftime("%Y-%m-%d")
        folder = self.root / day
        folder.mkdir(parents=True, exist_ok=True)
        safe = "".join(ch for ch in uid if ch.isalnum() or ch in "-_")
        return folder / f"{safe}{PART_SUFFIXES[0]}", folder / f"{safe}{PART_SUFFIXES[1]}", f"{day}/{safe}.wav"

    def finish(self, caller_part: Path, agent_part: Path) -> threading.Thread:
        """Merge a finished call's parts in the background."""
        out = caller_part.with_name(caller_part.name.replace(PART_SUFFIXES[0], ".wav"))
        thread = threading.Thread(target=self._merge_logged, args=(caller_part, agent_part, out),
                                  name="recording-merge", daemon=True)
        thread.start()
        return thread

    @staticmethod
    def _merge_logged(left: Path, right: Path, out: Path) -> None:
        try:
            merge_stereo(left, right, out)
        except OSError:
            log.exception("merging recording %s failed", out)

    def recover(self) -> list[Path]:
        """Merge parts left by a crash; return the recordings made whole."""
        made = []
        if not self.root.is_dir():
            return made
        for caller_part in sorted(self.root.glob(f"*/*{PART_SUFFIXES[0]}")):
            agent_part = caller_part.with_name(caller_part.name.replace(PART_SUFFIXES[0], PART_SUFFIXES[1]))
            out = caller_part.with_name(caller_part.name.replace(PART_SUFFIXES[0], ".wav"))
            merge_stereo(caller_part, agent_part if agent_part.exists() else None, out)
            made.append(out)
        for agent_part in sorted(self.root.glob(f"*/*{PART_SUFFIXES[1]}")):
            out = agent_part.with_name(agent_part.name.replace(PART_SUFFIXES[1], ".wav"))
            merge_stereo(None, agent_part, out)
            made.append(out)
        if made:
            log.warning("recovered %d recordings interrupted by a crash", len(made))
        return made

    def sweep(self, now: float, keep_days: float, max_bytes: int) -> list[Path]:
        """Delete finished recordings, oldest first, past the age or size budget."""
        files = sorted((p for p in self.root.glob("*/*.wav") if not p.name.endswith(".part.wav")),
                       key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        removed = []
        for path in files:
            too_old = keep_days and now - path.stat().st_mtime > keep_days * 86400
            too_big = max_bytes and total > max_bytes
            if not (too_old or too_big):
                break
            total -= path.stat().st_size
            path.unlink()
            removed.append(path)
        for folder in self.root.glob("*"):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return removed
