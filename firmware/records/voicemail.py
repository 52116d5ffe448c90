"""Voicemail on disk: mailboxes of messages, each a WAV with its facts beside it.

``DATA/voicemail/<mailbox>/<stamp>-<caller>.wav`` plus ``.json`` holding
caller, time and length. A message is recorded into ``.part.wav`` and only
becomes a message when finished (:meth:`Voicemail.finish`); a part left by
a crash is repaired and kept by :meth:`Voicemail.recover`, so a message is
never lost to a power cut. Mailbox PINs are stored as PBKDF2 hashes.
Nothing here touches pjsua2.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import wave
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from firmware.errors import ConfigError
from firmware.fsutil import atomic_write_text
from firmware.records.recordings import repair_wav

log = logging.getLogger(__name__)

PIN = re.compile(r"^[0-9]{4,8}$")
PBKDF2_ROUNDS = 100_000


def hash_pin(pin: str) -> str:
    if not isinstance(pin, str) or not PIN.match(pin):
        raise ConfigError("voicemail.pin", "must be 4 to 8 digits")
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise ConfigError("voicemail.pin", "is too easy to guess (repeated or consecutive digits)")
    salt = secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), PBKDF2_ROUNDS).hex()
    return f"pbkdf2${salt}${digest}"


def check_pin(stored: str | None, pin: str) -> bool:
    """Constant-time check; a mailbox without a PIN can't be opened by phone."""
    if not stored or not stored.startswith("pbkdf2$"):
        return False
    _, salt, digest = stored.split("$", 2)
    candidate = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), PBKDF2_ROUNDS).hex()
    return hmac.compare_digest(candidate, digest)


@dataclass(frozen=True)
class Message:
    id: str            # file stem, unique in the mailbox
    mailbox: str
    caller: str
    time: float
    seconds: float
    path: Path

    def as_dict(self) -> dict:
        return {"id": self.id, "mailbox": self.mailbox, "caller": self.caller, "time": self.time,
                "seconds": round(self.seconds, 1)}


class Voicemail:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _box(self, mailbox: str) -> Path:
        if not re.match(r"^[a-z0-9][a-z0-9_-]{0,31}$", mailbox):
            raise ConfigError("voicemail.mailbox", f"bad mailbox name {mailbox!r}")
        folder = self.root / mailbox
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def new_part(self, mailbox: str, caller: str, when: float) -> Path:
        safe_caller = "".join(ch for ch in caller if ch.isalnum() or ch == "+")[:32] or "unknown"
        stamp = datetime.fromtimestamp(when).strftime("%Y%m%d-%H%M%S")
        return self._box(mailbox) / f"{stamp}-{secrets.token_hex(2)}-{safe_caller}.part.wav"

    def finish(self, part: Path, caller: str, when: float, min_seconds: float = 1.0) -> Message | None:
        """Turn a recorded part into a message (too short: dropped, like Asterisk)."""
        if not part.exists():
            return None
        repair_wav(part)
        try:
            with wave.open(str(part)) as w:
                seconds = w.getnframes() / float(w.getframerate())
        except (wave.Error, EOFError):
            seconds = 0.0
        if seconds < min_seconds:
            part.unlink(missing_ok=True)
            return None
        final = part.with_name(part.name.replace(".part.wav", ".wav"))
        meta = {"caller": caller, "time": when, "seconds": round(seconds, 2)}
        atomic_write_text(final.with_suffix(".json"), json.dumps(meta))
        part.replace(final)
        log.info("voicemail for %s from %s, %.1f s", part.parent.name, caller, seconds)
        return self._message(final)

    def recover(self) -> int:
        """Keep messages whose recording a crash cut short."""
        kept = 0
        for part in self.root.glob("*/*.part.wav"):
            caller = part.name.split("-", 3)[-1].replace(".part.wav", "")
            if self.finish(part, caller, part.stat().st_mtime) is not None:
                kept += 1
        return kept

    def _message(self, path: Path) -> Message | None:
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
        except (OSError, ValueError):
            meta = {"caller": "unknown", "time": path.stat().st_mtime, "seconds": 0.0}
        return Message(path.stem, path.parent.name, meta["caller"], meta["time"], meta["seconds"], path)

    def messages(self, mailbox: str) -> list[Message]:
        """Newest first."""
        folder = self.root / mailbox
        if not folder.is_dir():
            return []
        found = [self._message(p) for p in folder.glob("*.wav") if not p.name.endswith(".part.wav")]
        return sorted((m for m in found if m), key=lambda m: m.time, reverse=True)

    def delete(self, mailbox: str, message_id: str) -> bool:
        for message in self.messages(mailbox):
            if message.id == message_id:
                message.path.unlink(missing_ok=True)
                message.path.with_suffix(".json").unlink(missing_ok=True)
                return True
        return False
