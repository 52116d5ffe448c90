"""What the web process reaches of the box: the config store, the core's
control socket, its own users and state, and the call records (read-only).

One :class:`Box` per app, made by ``create_app`` and reached through
:func:`get_box`; the call-record connection is per request
(:func:`get_calllog`, closed at ``teardown_appcontext``).

The web never touches pjsua2 or hardware: configuration goes through
:class:`~firmware.config.store.ConfigStore` (the one writer, flock) and
live state and actions through :class:`~firmware.core.control.ControlClient`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from flask import current_app, g

from firmware.config.store import ConfigStore
from firmware.core.control import ControlClient
from firmware.errors import ControlError
from firmware.paths import BoxPaths
from web.auth.users import UserStore
from web.calllog import CallLog
from web.state import WebState

log = logging.getLogger(__name__)


@dataclass
class Box:
    paths: BoxPaths
    control_socket: Path
    control_timeout_s: float = 3.0

    def __post_init__(self):
        self.store = ConfigStore(self.paths.data)
        self.web_dir = self.paths.data / "web"
        self.users = UserStore(self.web_dir / "users.json")
        self.state = WebState(self.web_dir / "state.json")

    def open(self) -> "Box":
        self.store.open()
        self.web_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.users.prepare()
        self.state.prepare()
        return self

    @property
    def admin_reset_flag(self) -> Path:
        """Made by the core when the owner holds the panel button at boot (see web/README.md)."""
        return self.paths.run / "admin-reset"

    def consume_admin_reset(self) -> bool:
        """If the box asked for it, forget the admin password: the wizard's first step opens again.

        Each request of the flag (its mtime) is honoured once; agents' logins stay.
        """
        try:
            requested = self.admin_reset_flag.stat().st_mtime
        except OSError:
            return False
        if not self.state.take_admin_reset(requested):
            return False
        try:
            self.admin_reset_flag.unlink()
        except OSError:
            pass        # not ours to delete (permissions): its time is remembered instead
        removed = self.users.remove_admins()
        log.warning("admin password reset from the box: removed %s", ", ".join(removed) or "nobody")
        return True

    def core(self, cmd: str, **args):
        """Ask the core; raises :class:`ControlError` when it is down or refuses."""
        return ControlClient(self.control_socket, timeout=self.control_timeout_s).request(cmd, **args)

    def apply_config(self) -> bool:
        """Make a saved change take effect: ask a running core to reload.

        If the core is down the change waits for its start (it reads the
        config then); Kamailio's credential table is rewritten meanwhile,
        as ``smallpbx`` does, so a new phone can register at once.
        :returns: True if the running core reloaded.
        """
        try:
            self.core("reload")
            return True
        except ControlError as exc:
            log.info("the core did not reload (%s); the change is saved for its next start", exc)
        if self.paths.proxy_run.exists():
            from firmware.proxy import kamailio
            try:
                kamailio.write_credentials(self.paths.proxy_run / "db", self.store.extensions())
            except OSError as exc:
                log.warning("could not rewrite the SIP credential table: %s", exc)
        return False


def get_box() -> Box:
    return current_app.extensions["smallpbx"]


def get_calllog() -> CallLog:
    if "calllog" not in g:
        g.calllog = CallLog(get_box().paths.data / "records.db")
    return g.calllog


def close_calllog(_exc=None) -> None:
    calllog = g.pop("calllog", None)
    if calllog is not None:
        calllog.close()
