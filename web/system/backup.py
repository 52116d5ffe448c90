"""Backup and restore of the box's whole configuration, as one JSON file.

Format (``format: "smallpbx-backup"``, ``version: 1``)::

    {"format": "smallpbx-backup", "version": 1, "created": "2026-11-23T10:00:00Z",
     "firmware": "0.1.0",
     "auth": {"alg": "HMAC-SHA256", "key": "box"}            # or, with a passphrase:
          # {"alg": "HMAC-SHA256", "key": "passphrase", "kdf": "scrypt",
          #  "n": 16384, "r": 8, "p": 1, "salt": "<base64>"}
     "config": {...DATA/config.json, the tinydb document...},
     "web": {"users": {...DATA/web/users.json...}, "state": {...DATA/web/state.json...}},
     "files": {"prompts/custom/en/greeting.wav": "<base64>", ...},
     "same": {"prompts/custom/zh_CN/greeting.wav": "prompts/custom/en/greeting.wav"},  # version 2
     "hmac": "<hex>"}

**Files.** ``prompts/custom/<language>/<name>.wav``: exactly the names and
sizes a restore accepts (:func:`restorable`), so a stray file in that
folder can never make a backup that does not restore; anything else is
left out. A file whose content another one in ``files`` has already (the
greeting is installed once per language) is listed in ``same`` with the
name of that other file instead of being stored twice. A backup with
``same`` is ``version`` 2 (an older box refuses it instead of losing
those files); one without is ``version`` 1, as before. Both restore.

**Size.** A restore may send up to ``RESTORE_MAX_BYTES`` (200 MB,
``web/__init__.py``; waitress's body limit matches, ``web/server.py``);
every other request stays under 21 MB.

**Integrity.** ``hmac`` is HMAC-SHA256 over the *canonical* content: the
object without ``hmac``, as ``json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` in UTF-8. Any change to what
would be restored (one byte of the config, a user, a file, the ``auth``
block) makes the check fail; the layout of the file (spaces, key order)
does not matter.

**Key.** One of two, named in ``auth.key``:

- ``box``: this box's backup key, ``DATA/web/backup_key`` (32 random bytes,
  mode 0600, made once, never in a backup). Such a backup restores on this
  box only.
- ``passphrase``: the owner typed a passphrase (at least 10 characters) when
  downloading; the key is ``scrypt(passphrase, salt, n=16384, r=8, p=1)``
  with the salt stored in ``auth``. It restores on any box when the same
  passphrase is typed again — to move to a new box, or after the SD card
  (and with it the box key) was lost.

The file is signed, not encrypted: it holds the trunk password, the SIM
PIN, the extensions' HA1 digests and the web users' scrypt hashes. Keep it
as private as the box.

**Restore** is all or nothing (and refuses input nested too deep to parse,
400, rather than failing): parse → check the format → verify the HMAC
(a refusal changes nothing) → validate everything (the config with
``firmware.config.schema.validate``, users, state, file names) → under the
config store's lock, then the users' and the state's locks, replace
``config.json``, ``users.json``, ``state.json`` and ``prompts/custom/``,
each file atomically (``firmware.fsutil``); if any write fails, the files
already replaced are put back from the bytes read before. A power cut
between two file replacements could still leave some files new and some
old (each file itself is whole). Every restored user's ``epoch`` moves past
both the backup's and the current one (a user not on the box now gets a
new random one), so every session, including the restoring admin's, ends:
log in with the restored password. Files in ``prompts/custom/`` a backup
could not hold are left alone.

The API reads the passphrase from the ``X-Backup-Passphrase`` header
(:func:`header_passphrase`): percent-encoded UTF-8 (JavaScript's
``encodeURIComponent``), so any passphrase fits in a header.
"""
from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import json
import os
import secrets
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from firmware import __version__
from firmware.config import schema
from firmware.config.store import AtomicJSONStorage
from firmware.core.prompts import PROMPT_NAME, VOICES
from firmware.errors import ConfigError
from firmware.fsutil import atomic_write_bytes
from web.auth.users import ROLES, USERNAME, new_epoch
from web.box import Box
from web.i18n import N_

FORMAT = "smallpbx-backup"
VERSION = 1                 # made without "same"
VERSION_SAME = 2            # made with "same" (identical files stored once)
VERSIONS = (VERSION, VERSION_SAME)
KEY_FILE = "backup_key"
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
MIN_PASSPHRASE = 10
MAX_FILE_BYTES = 20 * 1024 * 1024
CUSTOM = "prompts/custom"
WIZARD_STEPS = 7            # web/wizard/views.py STEPS


# -- keys ---------------------------------------------------------------------------------------

def load_box_key(web_dir: Path) -> bytes:
    """This box's backup key; made on first use (32 random bytes, mode 0600), never shared."""
    path = Path(web_dir) / KEY_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        key = path.read_bytes()
        if len(key) >= 32:
            return key
        path.unlink()            # cut short by a crash while it was made: make a new one
        return load_box_key(web_dir)
    try:
        key = secrets.token_bytes(32)
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def _passphrase_key(passphrase: str, auth: dict) -> bytes:
    try:
        salt = base64.b64decode(auth["salt"], validate=True)
        n, r, p = int(auth["n"]), int(auth["r"]), int(auth["p"])
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise ConfigError("backup.auth", N_("the backup's key description is damaged")) from None
    if (n, r, p) != (SCRYPT["n"], SCRYPT["r"], SCRYPT["p"]) or len(salt) < 16:
        raise ConfigError("backup.auth", N_("the backup's key description is damaged"))
    return hashlib.scrypt(passphrase.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)


def header_passphrase(value: str | None) -> str | None:
    """The passphrase of an ``X-Backup-Passphrase`` header: percent-encoded UTF-8.

    A passphrase without ``%`` may also be sent as it is (ASCII, or raw
    UTF-8 bytes, which WSGI hands over as Latin-1).
    """
    if not value:
        return None
    try:
        value = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    try:
        return unquote(value, errors="strict") or None
    except UnicodeDecodeError:
        raise ConfigError("passphrase", N_("must be percent-encoded UTF-8")) from None


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE:
        raise ConfigError("passphrase", N_("must be at least 10 characters"))
    if len(passphrase) > 256:
        raise ConfigError("passphrase", N_("must be at most 256 characters"))


# -- making -------------------------------------------------------------------------------------

def canonical(doc: dict) -> bytes:
    """What the HMAC covers: everything but ``hmac``, in one fixed JSON spelling."""
    body = {k: v for k, v in doc.items() if k != "hmac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(doc: dict, key: bytes) -> dict:
    out = dict(doc)
    out["hmac"] = hmac.new(key, canonical(out), hashlib.sha256).hexdigest()
    return out


def restorable(name) -> bool:
    """Whether a backup may hold (and a restore write) the file ``name``: ``prompts/custom/<voice>/<name>.wav``."""
    parts = name.split("/") if isinstance(name, str) else []
    return (len(parts) == 4 and "/".join(parts[:2]) == CUSTOM and parts[2] in VOICES
            and parts[3].endswith(".wav") and bool(PROMPT_NAME.match(parts[3][:-4])))


def _custom_paths(prompts: Path) -> dict[str, Path]:
    """The files under ``prompts/custom`` a backup may hold, by backup name."""
    root = Path(prompts) / "custom"
    if not root.is_dir():
        return {}
    return {name: path for path in sorted(root.glob("*/*.wav"))
            if restorable(name := f"{CUSTOM}/{path.parent.name}/{path.name}")}


def _custom_files(prompts: Path) -> dict[str, bytes]:
    out = {}
    for name, path in _custom_paths(prompts).items():
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue                  # a restore would refuse it: leave it out
            out[name] = path.read_bytes()
        except OSError:
            continue
    return out


def _stored_once(files: dict[str, bytes]) -> tuple[dict[str, str], dict[str, str]]:
    """``files`` as base64, each content once, and ``same``: name -> the name holding its content."""
    stored: dict[str, str] = {}
    same: dict[str, str] = {}
    first: dict[bytes, str] = {}
    for name, data in sorted(files.items()):
        digest = hashlib.sha256(data).digest()
        if digest in first:
            same[name] = first[digest]
        else:
            first[digest] = name
            stored[name] = base64.b64encode(data).decode()
    return stored, same


def make(box: Box, passphrase: str | None = None, *, now: datetime | None = None) -> dict:
    """The box's configuration as a signed backup document."""
    if passphrase:
        check_passphrase(passphrase)
        auth = {"alg": "HMAC-SHA256", "key": "passphrase", "kdf": "scrypt", **SCRYPT,
                "salt": base64.b64encode(secrets.token_bytes(16)).decode()}
        key = _passphrase_key(passphrase, auth)
    else:
        auth = {"alg": "HMAC-SHA256", "key": "box"}
        key = load_box_key(box.web_dir)
    created = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    files, same = _stored_once(_custom_files(box.paths.prompts))
    doc = {"format": FORMAT, "version": VERSION_SAME if same else VERSION, "created": created,
           "firmware": __version__, "auth": auth, "config": box.store.read_document(),
           "web": {"users": box.users.file.read(), "state": box.state.file.read()},
           "files": files}
    if same:
        doc["same"] = same
    return sign(doc, key)


def filename(doc: dict) -> str:
    stamp = doc["created"].replace("-", "").replace(":", "").replace("T", "-").rstrip("Z")
    return f"smallpbx-backup-{stamp}.json"


def dumps(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


# -- checking -----------------------------------------------------------------------------------

def parse(raw: bytes | str) -> dict:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):      # RecursionError: nested too deep
        raise ConfigError("backup", N_("is not a SmallPBX backup (not JSON)")) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError("backup", N_("is not a SmallPBX backup"))
    if doc.get("version") not in VERSIONS or isinstance(doc.get("version"), bool):
        raise ConfigError("backup.version", N_("this backup's format version is not supported"))
    return doc


def verify(box: Box, doc: dict, passphrase: str | None = None) -> None:
    """Raise ``ConfigError`` unless the HMAC matches the key the backup names."""
    auth = doc.get("auth")
    if not isinstance(auth, dict) or auth.get("alg") != "HMAC-SHA256":
        raise ConfigError("backup.auth", N_("the backup's key description is damaged"))
    if auth.get("key") == "box":
        key = load_box_key(box.web_dir)
    elif auth.get("key") == "passphrase":
        if not passphrase:
            raise ConfigError("passphrase", N_("this backup was made with a passphrase; type it"))
        key = _passphrase_key(passphrase, auth)
    else:
        raise ConfigError("backup.auth", N_("the backup's key description is damaged"))
    claimed = doc.get("hmac")
    try:
        expected = hmac.new(key, canonical(doc), hashlib.sha256).hexdigest()
    except (RecursionError, ValueError):
        raise ConfigError("backup", N_("is not a SmallPBX backup")) from None
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed, expected):
        if auth.get("key") == "passphrase":
            raise ConfigError("passphrase", N_("wrong passphrase, or the backup was changed"))
        raise ConfigError("backup", N_("the backup was changed, or was made by another box "
                                       "(restore it there, or make it with a passphrase)"))


def _check_users(users, extensions: set[str]) -> dict:
    if not isinstance(users, dict) or not isinstance(users.get("users"), dict):
        raise ConfigError("web.users", N_("is damaged"))
    for name, rec in users["users"].items():
        label = f"web.users.{name}"
        if not USERNAME.match(name) or not isinstance(rec, dict):
            raise ConfigError(label, N_("is damaged"))
        if rec.get("role") not in ROLES or not str(rec.get("hash", "")).startswith("scrypt$"):
            raise ConfigError(label, N_("is damaged"))
        if not isinstance(rec.get("epoch", 0), int):
            raise ConfigError(f"{label}.epoch", N_("must be a whole number"))
        if rec["role"] == "agent" and rec.get("extension") not in extensions:
            raise ConfigError(f"{label}.extension", N_("no such extension"))
    if not any(rec["role"] == "admin" for rec in users["users"].values()):
        raise ConfigError("web.users", N_("has no admin: nobody could log in"))
    return users


def _check_state(state) -> dict:
    if not isinstance(state, dict) or not isinstance(state.get("wizard", {}), dict):
        raise ConfigError("web.state", N_("is damaged"))
    wizard = state.get("wizard", {})
    step = wizard.get("step", 0)
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= WIZARD_STEPS:
        raise ConfigError("web.state.wizard.step", N_("is damaged"))
    if not isinstance(wizard.get("done", False), bool):
        raise ConfigError("web.state.wizard.done", N_("is damaged"))
    if not isinstance(wizard.get("draft", {}), dict):
        raise ConfigError("web.state.wizard.draft", N_("is damaged"))
    at = state.get("admin_reset_at")
    if at is not None and (isinstance(at, bool) or not isinstance(at, (int, float))):
        raise ConfigError("web.state.admin_reset_at", N_("is damaged"))
    zone = state.get("timezone")
    if zone is not None:
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError("web.state.timezone", N_("must be a time zone name like Asia/Shanghai")) from None
    return state


def _check_files(files, same=None) -> dict[str, bytes]:
    if not isinstance(files, dict) or not isinstance(same if same is not None else {}, dict):
        raise ConfigError("files", N_("is damaged"))
    out = {}
    for name, data in files.items():
        if not restorable(name):
            raise ConfigError(f"files.{name}", N_("is not a file a backup may hold"))
        try:
            content = base64.b64decode(data, validate=True)
        except (TypeError, ValueError, binascii.Error):
            raise ConfigError(f"files.{name}", N_("is damaged")) from None
        if len(content) > MAX_FILE_BYTES:
            raise ConfigError(f"files.{name}", N_("must be an audio file of at most 20 MB"))
        out[name] = content
    for name, other in (same or {}).items():
        if not restorable(name) or name in files:
            raise ConfigError(f"same.{name}", N_("is not a file a backup may hold"))
        if not isinstance(other, str) or other not in out:
            raise ConfigError(f"same.{name}", N_("is damaged"))
        out[name] = out[other]
    return out


def check(box: Box, doc: dict, passphrase: str | None = None) -> tuple[dict, dict, dict, dict[str, bytes]]:
    """Verify and validate; the config, users, state and files to restore."""
    verify(box, doc, passphrase)
    config = doc.get("config")
    schema.validate(config)                         # ConfigError names the field, e.g. settings.language
    extensions = {e["number"] for e in (config.get("extensions") or {}).values()}
    web = doc.get("web")
    if not isinstance(web, dict):
        raise ConfigError("web", N_("is damaged"))
    users = _check_users(copy.deepcopy(web.get("users")), extensions)
    state = _check_state(copy.deepcopy(web.get("state")))
    if "same" in doc and doc.get("version") != VERSION_SAME:
        raise ConfigError("backup.version", N_("this backup's format version is not supported"))
    files = _check_files(doc.get("files", {}), doc.get("same"))
    return config, users, state, files


# -- restoring ----------------------------------------------------------------------------------

def _json_bytes(data: dict) -> bytes:
    # As web/jsonfile.py writes it.
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def restore(box: Box, raw: bytes | str, passphrase: str | None = None) -> dict:
    """Replace the configuration with the backup's, all of it or nothing.

    :returns: ``{"restored": created, "users": [...], "files": n, "applied": bool}``
    """
    doc = parse(raw)
    config, users, state, files = check(box, doc, passphrase)
    with ExitStack() as locks:
        # Lock order: the config store, then users, then state (the web takes them one at a time elsewhere).
        locks.enter_context(box.store._locked())
        locks.enter_context(box.users.file._locked())
        locks.enter_context(box.state.file._locked())
        current_users = box.users.file.read().get("users", {})
        for name, rec in users["users"].items():
            if name in current_users:                                     # every session ends
                rec["epoch"] = max(int(current_users[name].get("epoch", 0)), int(rec.get("epoch", 0))) + 1
            else:                  # not here now: an epoch none of its earlier sessions can carry
                rec["epoch"] = new_epoch()
        current_state = box.state.file.read()
        if current_state.get("admin_reset_at") or state.get("admin_reset_at"):
            state["admin_reset_at"] = max(float(current_state.get("admin_reset_at") or 0),
                                          float(state.get("admin_reset_at") or 0))
        present = _custom_paths(box.paths.prompts)      # what a backup could hold; other files stay
        targets: list[tuple[Path, bytes | None, int]] = [
            (box.users.file.path, _json_bytes(users), 0o600),
            (box.state.file.path, _json_bytes(state), 0o600),
        ]
        targets += [(box.paths.data / name, content, 0o640) for name, content in files.items()]
        targets += [(path, None, 0) for name, path in present.items() if name not in files]
        before = {path: (path.read_bytes() if path.exists() else None) for path, _n, _m in targets}
        before[box.store.path] = box.store.path.read_bytes() if box.store.path.exists() else None
        done: list[Path] = []
        try:
            AtomicJSONStorage(box.store.path).write(config)       # validates once more, then replaces
            done.append(box.store.path)
            for path, content, mode in targets:
                if content is None:
                    path.unlink(missing_ok=True)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write_bytes(path, content, mode=mode)
                done.append(path)
        except BaseException:
            for path in reversed(done):
                old = before[path]
                if old is None:
                    path.unlink(missing_ok=True)
                else:
                    atomic_write_bytes(path, old, mode=0o600 if path.parent == box.web_dir else 0o640)
            raise
    return {"restored": doc.get("created"), "users": sorted(users["users"]), "files": len(files),
            "applied": box.apply_config()}
