"""Where a call can be sent: the destinations every routing rule points at.

An inbound route, an IVR choice, a time condition branch and a queue's
failover all name a :class:`Target`. Keeping one small type means any rule
can point at any destination, the way FreePBX's "destination" picker works.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class TargetKind(enum.Enum):
    MENU = "menu"                  # an IVR menu, ref = menu id
    QUEUE = "queue"                # a call queue, ref = queue id
    EXTENSION = "extension"        # ring one extension, ref = its number
    VOICEMAIL = "voicemail"        # leave a message, ref = mailbox id
    ANNOUNCEMENT = "announcement"  # play a prompt then hang up, ref = prompt name
    TIME_CONDITION = "time_condition"  # ref = time condition id
    HANGUP = "hangup"              # ref unused


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    ref: str = ""

    @classmethod
    def parse(cls, text: str) -> "Target":
        """``"queue:sales"`` -> Target(QUEUE, "sales"); ``"hangup"`` -> Target(HANGUP)."""
        kind, _, ref = text.partition(":")
        try:
            target_kind = TargetKind(kind)
        except ValueError:
            raise ValueError(f"unknown destination kind {kind!r}") from None
        if target_kind is not TargetKind.HANGUP and not ref:
            raise ValueError(f"destination {text!r} needs a name after ':'")
        return cls(target_kind, ref)

    def __str__(self) -> str:
        return self.kind.value if self.kind is TargetKind.HANGUP else f"{self.kind.value}:{self.ref}"
