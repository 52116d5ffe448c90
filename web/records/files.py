"""Recordings and voicemail messages on disk, as the web reaches them.

A download names an opaque id, never a path: ``<uid>.wav`` for a call's
recording (the file is the one the call record names, written by
:mod:`firmware.records.recordings` as ``YYYY-MM-DD/<uid>.wav``) and
``<message id>.wav`` in a mailbox for voicemail (found among
:meth:`~firmware.records.voicemail.Voicemail.messages`). Whatever the
record or the folder says, the file served must resolve (symlinks
followed) to a regular file inside ``DATA/recordings`` or
``DATA/voicemail``; anything else is "not found".

Who may have what: the admin everything; an agent the recordings of calls
it answered and the messages of its own extension's mailbox. A call the
agent may not see answers 404 like a missing one.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path, PurePosixPath

from firmware.records.voicemail import Message, Voicemail
from web.auth.users import User
from web.box import Box
from web.calllog import CallLog

log = logging.getLogger(__name__)

UID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MESSAGE_ID = re.compile(r"[A-Za-z0-9+_-]{1,96}")
MAILBOX = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def recordings_root(box: Box) -> Path:
    return box.paths.data / "recordings"


def voicemail_root(box: Box) -> Path:
    return box.paths.data / "voicemail"


def inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it is a regular file that really lies inside ``root``.

    Refuses absolute names, ``..``, backslashes and NULs outright, then
    resolves symlinks and checks the result is still under ``root``.
    """
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    rel = PurePosixPath(relative)
    if rel.is_absolute() or ".." in rel.parts:
        return None
    try:
        base = root.resolve(strict=True)
        path = (base / rel).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(base) or not path.is_file():
        log.warning("refused a file outside %s: %s", root, relative)
        return None
    return path


def stem(filename: str, pattern: re.Pattern) -> str | None:
    """``abc`` from ``abc.wav`` when ``abc`` matches ``pattern``."""
    if not filename.endswith(".wav"):
        return None
    name = filename[:-4]
    return name if pattern.fullmatch(name) else None


def may_see_call(user: User, rec: dict) -> bool:
    return user.is_admin or (bool(user.extension) and rec.get("agent") == user.extension)


def recording_of(box: Box, rec: dict) -> Path | None:
    """The call's recording, if it has one and it is still on disk (retention deletes old ones)."""
    if not rec.get("recording"):
        return None
    return inside(recordings_root(box), rec["recording"])


def find_recording(box: Box, calllog: CallLog, user: User, filename: str) -> tuple[dict, Path] | None:
    """The call and its recording named by ``<uid>.wav``, if this user may have it."""
    uid = stem(filename, UID)
    if uid is None:
        return None
    rec = calllog.call(uid)
    if rec is None or not may_see_call(user, rec):
        return None
    path = recording_of(box, rec)
    return None if path is None else (rec, path)


# -- voicemail ---------------------------------------------------------------------------------
def mailboxes(box: Box, user: User) -> dict[str, str]:
    """The mailboxes this user may open: ``{id: label}`` (an agent: its own extension's)."""
    extensions = {e["number"]: e.get("name", "") for e in box.store.extensions()}
    if not user.is_admin:
        ext = user.extension
        return {ext: extensions.get(ext, "")} if ext in extensions else {}
    boxes = dict(extensions)
    for rec in box.store.callcenter_tables()["voicemail"]:
        boxes.setdefault(rec["id"], rec.get("name", ""))
    return {k: boxes[k] for k in sorted(boxes) if MAILBOX.fullmatch(k)}


def messages(box: Box, user: User, mailbox: str) -> list[Message] | None:
    """The messages of a mailbox, newest first; None if this user may not open it."""
    if mailbox not in mailboxes(box, user):
        return None
    return Voicemail(voicemail_root(box)).messages(mailbox)


def find_message(box: Box, user: User, mailbox: str, filename: str) -> tuple[Message, Path] | None:
    message_id = stem(filename, MESSAGE_ID)
    found = messages(box, user, mailbox) if message_id else None
    message = next((m for m in found or [] if m.id == message_id), None)
    if message is None:
        return None
    path = inside(voicemail_root(box), f"{mailbox}/{message.path.name}")
    return None if path is None else (message, path)


def delete_message(box: Box, user: User, mailbox: str, filename: str) -> bool:
    """Delete one message (and its facts file); False if there is none this user may delete."""
    message_id = stem(filename, MESSAGE_ID)
    if message_id is None or messages(box, user, mailbox) is None:
        return False
    gone = Voicemail(voicemail_root(box)).delete(mailbox, message_id)
    if gone:
        log.info("%s deleted voicemail %s of mailbox %s", user.username, message_id, mailbox)
    return gone
