"""Web users: the shop owner (admin) and agents, in ``DATA/web/users.json``.

Written only by the web process, through :class:`~web.jsonfile.LockedJsonFile`
(flock + atomic rename, mode 0600). Passwords are stored as scrypt hashes
with a per-user salt; nothing else can turn one back into a password.

An agent user is tied to one extension: it sees that extension's status and
calls only. Each user has an ``epoch``; a session remembers the epoch it was
made in, and bumping it (password change, log out, removal) ends every
session of that user at once. A new user starts at a random 63-bit epoch
(:func:`new_epoch`), never at a fixed one: a user removed and made again
under the same name (an agent's web login, the owner after an admin-password
reset) must not bring the old user's sessions back.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from firmware.errors import ConfigError
from web.i18n import N_
from web.jsonfile import LockedJsonFile

USERNAME = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
MIN_LENGTH = 10
MIN_DISTINCT = 5
# The passwords scanners and people try first (and what people type when told "10 characters").
COMMON = {
    "1234567890", "0123456789", "12345678910", "1111111111", "0000000000", "1234512345", "qwertyuiop",
    "password123", "password1234", "passw0rd123", "admin12345", "administrator", "iloveyou123",
    "abcdefghij", "abcd123456", "a123456789", "qwerty123456", "1q2w3e4r5t", "1qaz2wsx3edc", "zxcvbnm123",
    "woaini1314", "woaini520", "5201314520", "aa123456789", "smallpbx123", "changeme123",
}
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
ROLES = ("admin", "agent")


@dataclass(frozen=True)
class User:
    username: str
    role: str
    extension: str | None
    epoch: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def check_password(password: str, username: str = "", field: str = "password") -> None:
    """Refuse a password a guesser would try early; ``ConfigError(field, …)``."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise ConfigError(field, N_("must be at least 10 characters"))
    if len(password) > 128:
        raise ConfigError(field, N_("must be at most 128 characters"))
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in password):
        raise ConfigError(field, N_("must not contain control characters"))
    if len(set(password)) < MIN_DISTINCT:
        raise ConfigError(field, N_("must use at least 5 different characters"))
    if len(username) >= 3 and username.lower() in password.lower():
        raise ConfigError(field, N_("must not contain the user name"))
    if password.lower() in COMMON:
        raise ConfigError(field, N_("is one of the most common passwords"))


def check_username(username: str, field: str = "username") -> None:
    if not isinstance(username, str) or not USERNAME.match(username):
        raise ConfigError(field, N_("must be 1-32 letters, digits, '.', '-' or '_'"))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def generate_password(username: str = "") -> str:
    """14 letters and digits without look-alikes (0/O, 1/l/I): ~80 bits, easy to type.

    Always one :func:`check_password` accepts for ``username`` (a draw that
    happens to contain the user name is drawn again).
    """
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(14))
        try:
            check_password(password, username)
        except ConfigError:
            continue
        return password


def new_epoch() -> int:
    """Where a new user's sessions start counting: random, so never one a removed user had."""
    return secrets.randbits(63)


# Verified for unknown users so that a wrong user name costs the same time as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def _empty() -> dict:
    return {"version": 1, "users": {}}


class UserStore:
    """The web's users. Thread- and process-safe (one writer at a time)."""

    def __init__(self, path: Path):
        self.file = LockedJsonFile(path, _empty)

    def prepare(self) -> "UserStore":
        self.file.prepare()
        return self

    def _users(self) -> dict:
        return self.file.read().get("users", {})

    @staticmethod
    def _user(username: str, rec: dict) -> User:
        return User(username, rec["role"], rec.get("extension"), int(rec.get("epoch", 0)))

    def get(self, username: str) -> User | None:
        rec = self._users().get(username)
        return self._user(username, rec) if rec else None

    def all(self) -> list[User]:
        return [self._user(name, rec) for name, rec in sorted(self._users().items())]

    def has_admin(self) -> bool:
        return any(rec.get("role") == "admin" for rec in self._users().values())

    def for_extension(self, extension: str) -> User | None:
        for name, rec in self._users().items():
            if rec.get("role") == "agent" and rec.get("extension") == extension:
                return self._user(name, rec)
        return None

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right; the same work for unknown users."""
        rec = self._users().get(username) if isinstance(username, str) else None
        ok = verify_password(password, rec["hash"] if rec else _DUMMY_HASH)
        return self._user(username, rec) if rec and ok else None

    def create_first_admin(self, username: str, password: str) -> bool:
        """Create the admin, unless one exists already (two browsers racing the wizard)."""
        check_username(username)
        check_password(password, username)
        with self.file.update() as data:
            users = data.setdefault("users", {})
            if any(rec.get("role") == "admin" for rec in users.values()):
                return False
            users[username] = self._record("admin", None, password)
        return True

    def add_agent(self, username: str, extension: str, password: str) -> None:
        check_username(username)
        check_password(password, username)
        with self.file.update() as data:
            users = data.setdefault("users", {})
            if username in users:
                raise ConfigError("username", N_("exists already"))
            if any(r.get("extension") == extension for r in users.values()):
                raise ConfigError("extension", N_("has a web login already"))
            users[username] = self._record("agent", extension, password)

    def set_password(self, username: str, password: str) -> None:
        check_password(password, username)
        with self.file.update() as data:
            rec = data.get("users", {}).get(username)
            if rec is None:
                raise ConfigError("username", N_("no such user"))
            rec["hash"] = hash_password(password)
            rec["epoch"] = int(rec.get("epoch", 0)) + 1

    def end_sessions(self, username: str) -> None:
        with self.file.update() as data:
            rec = data.get("users", {}).get(username)
            if rec is not None:
                rec["epoch"] = int(rec.get("epoch", 0)) + 1

    def remove(self, username: str) -> bool:
        with self.file.update() as data:
            return data.get("users", {}).pop(username, None) is not None

    def remove_admins(self) -> list[str]:
        with self.file.update() as data:
            users = data.get("users", {})
            gone = [n for n, r in users.items() if r.get("role") == "admin"]
            for name in gone:
                del users[name]
        return gone

    def remove_extension_logins(self, extension: str) -> list[str]:
        with self.file.update() as data:
            users = data.get("users", {})
            gone = [n for n, r in users.items() if r.get("role") == "agent" and r.get("extension") == extension]
            for name in gone:
                del users[name]
        return gone

    @staticmethod
    def _record(role: str, extension: str | None, password: str) -> dict:
        return {"role": role, "extension": extension, "hash": hash_password(password), "epoch": new_epoch(),
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
