"""Extensions as the web pages and the API change them.

Thin wrappers over :mod:`firmware.config.extensions` (the same calls as
``smallpbx extension ...``) that also keep the agents' web logins in step
and make the change take effect (``reload``). Passwords come back once,
in the result, for the page to show; only digests and hashes are stored.

An extension made with a web login is made with it or not at all: the web
login is checked (free name, no other login on that extension, a password
the rules accept) before the extension is added, and if saving the login
still fails the extension is removed again, so no extension exists whose
SIP password was never shown.
"""
from __future__ import annotations

import logging

from flask import current_app, request
from tinydb import Query

from firmware.config import extensions as ext_api
from firmware.config import schema
from firmware.errors import ConfigError
from web.auth.users import check_password, check_username, generate_password
from web.box import Box
from web.i18n import N_
from web.provisioning import sip_account

log = logging.getLogger(__name__)


def server_host() -> str:
    """The address phones use: the one the owner's browser reached the box at."""
    host = request.host
    if host.startswith("["):                       # [v6]:port
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def account(box: Box, number: str, password: str, name: str = "") -> dict:
    return sip_account(number, password, server=server_host(), port=int(current_app.config["SIP_PORT"]),
                       realm=box.store.settings()["realm"], name=name)


def add(box: Box, number: str, name: str = "", *, web_login: bool = False) -> dict:
    """Create an extension (and its agent's web login); the passwords, once.

    With ``web_login`` both are made or neither: the login is checked first,
    and the extension is removed again if the login cannot be saved.
    """
    web_password = _web_login_checked(box, number) if web_login else None
    password = ext_api.add(box.store, number, name)
    result = {"account": account(box, number, password, name), "web_login": None}
    if web_password is not None:
        try:
            box.users.add_agent(number, number, web_password)
        except BaseException:
            try:
                ext_api.remove(box.store, number)
            except Exception:                  # pragma: no cover - the store failed twice in a row
                log.exception("extension %s was added but its web login was not, and it could not be "
                              "removed again", number)
            raise
        result["web_login"] = {"username": number, "password": web_password}
    result["applied"] = box.apply_config()
    return result


def _web_login_checked(box: Box, number: str) -> str:
    """The password of a web login for extension ``number``, once it is sure one can be made."""
    ext_api.check_number(number)              # a bad number is named as such, not as a bad user name
    check_username(number, "web_login")
    if box.users.get(number) is not None:
        raise ConfigError("web_login", N_("a web user with this name exists already"))
    if box.users.for_extension(number) is not None:
        raise ConfigError("web_login", N_("has a web login already"))
    password = generate_password(number)
    check_password(password, number, "web_login")
    return password


def _new_web_login(box: Box, number: str) -> dict:
    password = generate_password(number)
    box.users.add_agent(number, number, password)
    return {"username": number, "password": password}


def remove(box: Box, number: str) -> dict:
    """Remove an extension, its queue memberships and its web login, or refuse as a whole."""
    with box.store.write() as db:
        doc = box.store.read_document()
        exts = doc.get("extensions") or {}
        if not any(e.get("number") == number for e in exts.values()):
            raise ConfigError(f"extensions.{number}", N_("no such extension"))
        doc["extensions"] = {k: e for k, e in exts.items() if e.get("number") != number}
        changed_queues = []
        for rec in (doc.get("queues") or {}).values():
            if number in rec.get("members", []):
                rec["members"] = [m for m in rec["members"] if m != number]
                changed_queues.append((rec["id"], rec["members"]))
        schema.validate(doc)             # a route or menu that still points to it refuses, naming itself
        for qid, members in changed_queues:
            db.table("queues").update({"members": members}, Query().id == qid)
        db.table("extensions").remove(Query().number == number)
    logins = box.users.remove_extension_logins(number)
    return {"removed": number, "queues": [q for q, _ in changed_queues], "web_logins": logins,
            "applied": box.apply_config()}


def reset_sip_password(box: Box, number: str) -> dict:
    ext = ext_api.get(box.store, number)
    password = ext_api.set_password(box.store, number)
    return {"account": account(box, number, password, ext.get("name", "")), "applied": box.apply_config()}


def reset_web_login(box: Box, number: str) -> dict:
    """A new password for the agent's web login, made if it has none."""
    ext_api.get(box.store, number)
    user = box.users.for_extension(number)
    if user is None:
        if box.users.get(number) is not None:
            raise ConfigError("web_login", N_("a web user with this name exists already"))
        return {"web_login": _new_web_login(box, number)}
    password = generate_password(user.username)
    box.users.set_password(user.username, password)
    return {"web_login": {"username": user.username, "password": password}}


def listing(box: Box, registrations: list[dict] | None) -> list[dict]:
    registered = {r.get("user") for r in registrations or []}
    queues: dict[str, list[str]] = {}
    for q in box.store.callcenter_tables()["queues"]:
        for member in q.get("members", []):
            queues.setdefault(member, []).append(q.get("name") or q["id"])
    out = []
    for ext in box.store.extensions():
        login = box.users.for_extension(ext["number"])
        out.append({"number": ext["number"], "name": ext.get("name", ""), "created": ext.get("created"),
                    "registered": None if registrations is None else ext["number"] in registered,
                    "web_login": login.username if login else None,
                    "queues": queues.get(ext["number"], [])})
    return out
