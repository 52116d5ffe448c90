"""Where a dialed number goes.

The foundation dialplan knows feature codes (Asterisk/FreePBX style) and
extensions. Later issues add IVR menus, queues and outbound routes by
returning more :class:`Destination` kinds from :meth:`Dialplan.route`.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class App(enum.Enum):
    """What the core does with a call it answers (an Asterisk 'application')."""

    ECHO = "echo"          # *43: everything the caller says comes back
    PLAYBACK = "playback"  # *44: plays a prompt, then hangs up
    DIAL = "dial"          # ring an extension
    REJECT = "reject"      # refuse with a SIP status


# FreePBX uses *43 for the echo test; *44 plays a prompt (no FreePBX default).
FEATURE_CODES = {
    "*43": App.ECHO,
    "*44": App.PLAYBACK,
}

DIALABLE = re.compile(r"^[0-9*#+]{1,32}$")


@dataclass(frozen=True)
class Destination:
    app: App
    target: str = ""           # extension number, prompt name ...
    status: int = 0            # SIP status for REJECT
    reason: str = ""


class Dialplan:
    """Maps a dialed string to a :class:`Destination`.

    :param extensions: the extension numbers that exist.
    """

    def __init__(self, extensions: set[str] | frozenset[str] = frozenset()):
        self.extensions = frozenset(extensions)

    def route(self, dialed: str) -> Destination:
        if not isinstance(dialed, str) or not DIALABLE.match(dialed):
            return Destination(App.REJECT, status=404, reason="Not Found")
        if dialed in FEATURE_CODES:
            app = FEATURE_CODES[dialed]
            target = "playback-test" if app is App.PLAYBACK else ""
            return Destination(app, target=target)
        if dialed in self.extensions:
            return Destination(App.DIAL, target=dialed)
        return Destination(App.REJECT, status=404, reason="Not Found")
