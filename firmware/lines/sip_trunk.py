"""A SIP trunk as a line: a provider's account, or an FXO gateway on the LAN.

To the dialplan a trunk is one more line: its calls take its inbound
route and outbound routes may list it. Unlike a modem it carries several
calls at once and its audio is RTP, so the engine runs it as a pjsua2
account (``SipEngine.add_trunk``) and its calls are ordinary SIP legs.
This object is its face for the line bank: the state (registered or not)
and the status; everything here runs on the core's owner thread.
"""
from __future__ import annotations

import time


class SipTrunkLine:
    kind = "sip"

    def __init__(self, config: dict, engine, listener):
        self.name = config["id"]
        self.config = config
        self.engine = engine
        self.listener = listener
        self.state = "starting"
        self.detail = ""
        self.since = time.time()

    def start(self) -> None:
        self.engine.add_trunk(self.config)

    def close(self) -> None:
        self.engine.remove_trunk(self.name)

    def registration(self, state: str, detail: str) -> None:
        """The engine's report (owner thread): registered, or why not."""
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail, self.since = state, detail, time.time()
        self.listener.state(self, state, detail)

    def status(self) -> dict:
        return {"name": self.name, "kind": self.kind, "state": self.state, "detail": self.detail,
                "since": round(self.since, 1), "signal_dbm": None, "in_call": False,
                "server": self.config["server"], "recovery": []}
