"""Extensions: the phones of the shop, each with its own SIP credentials.

Only HA1 digests are stored; the password is returned once on creation
or change and shown to the user, never kept in clear.
"""
from __future__ import annotations

import secrets
import string
from datetime import datetime, timezone

from tinydb import Query

from firmware.config.schema import EXTENSION_NUMBER, validate_extension
from firmware.config.store import ConfigStore
from firmware.errors import ConfigError
from firmware.proxy.kamailio import ha1, ha1b

PASSWORD_ALPHABET = string.ascii_letters + string.digits
GENERATED_LENGTH = 16
MIN_LENGTH = 10


def generate_password() -> str:
    """16 random letters and digits: ~95 bits, and easy to type on a phone."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(GENERATED_LENGTH))


def check_number(number: str) -> None:
    if not isinstance(number, str) or not EXTENSION_NUMBER.match(number):
        raise ConfigError(f"extensions.{number}.number", "must be 2 to 6 digits, not starting with 0")


def check_password(number: str, password: str) -> None:
    """Refuse passwords a SIP scanner would guess first."""
    field = f"extensions.{number}.password"
    if len(password) < MIN_LENGTH:
        raise ConfigError(field, f"must be at least {MIN_LENGTH} characters")
    if number in password:
        raise ConfigError(field, "must not contain the extension number")
    if len(set(password)) < 5:
        raise ConfigError(field, "must use at least 5 different characters")
    if any(ord(ch) < 33 or ord(ch) > 126 for ch in password):
        raise ConfigError(field, "must be printable ASCII without spaces")


def _record(number: str, name: str, password: str, realm: str) -> dict:
    return {
        "number": number,
        "name": name,
        "ha1": ha1(number, realm, password),
        "ha1b": ha1b(number, realm, password),
    }


def add(store: ConfigStore, number: str, name: str = "", password: str | None = None) -> str:
    """Create an extension; return its password (generated if not given)."""
    check_number(number)
    if password is None:
        password = generate_password()
    check_password(number, password)
    realm = store.settings()["realm"]
    record = _record(number, name, password, realm)
    record["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    validate_extension(record)
    with store.write() as db:
        table = db.table("extensions")
        if table.search(Query().number == number):
            raise ConfigError(f"extensions.{number}.number", "exists already")
        table.insert(record)
    return password


def set_password(store: ConfigStore, number: str, password: str | None = None) -> str:
    if password is None:
        password = generate_password()
    check_password(number, password)
    realm = store.settings()["realm"]
    fresh = _record(number, "", password, realm)
    with store.write() as db:
        table = db.table("extensions")
        if not table.search(Query().number == number):
            raise ConfigError(f"extensions.{number}", "no such extension")
        table.update({"ha1": fresh["ha1"], "ha1b": fresh["ha1b"]}, Query().number == number)
    return password


def remove(store: ConfigStore, number: str) -> None:
    with store.write() as db:
        removed = db.table("extensions").remove(Query().number == number)
    if not removed:
        raise ConfigError(f"extensions.{number}", "no such extension")


def get(store: ConfigStore, number: str) -> dict:
    for ext in store.extensions():
        if ext["number"] == number:
            return ext
    raise ConfigError(f"extensions.{number}", "no such extension")
