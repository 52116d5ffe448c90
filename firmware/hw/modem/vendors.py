"""What differs between the supported modules, as data.

Sources: SIMCom SIM7600 series AT manual, SIM800 series AT manual, Quectel
EC25 AT manual. DTMF detection is the main difference: SIM7600 reports
``+RXDTMF: <digit>``, SIM800 ``+DTMF: <digit>`` once ``AT+DDET=1``, EC25
``+QTONEDET: <ASCII code>`` once ``AT+QTONEDET=1``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Vendor:
    name: str
    init: tuple[str, ...]                 # after the common init
    hang_up: str
    dtmf_urc: re.Pattern
    dtmf_is_ascii_code: bool = False
    pin_attempts: str = ""                # command reporting PIN/PUK attempts left
    pin_attempts_urc: re.Pattern | None = None
    pcm_audio: str = ""                   # enables voice over the USB PCM port
    call_begin: re.Pattern | None = None  # "the call is up" line, if the module has one
    call_end: re.Pattern | None = None
    extra_urcs: tuple[re.Pattern, ...] = field(default_factory=tuple)


# Lines a module sends unasked. One that also answers a command (+CPIN:,
# +CREG:) is taken as the answer while that command is pending (at.py).
COMMON_URCS = tuple(re.compile(p) for p in (
    r"^RING$", r"^\+CRING: ", r"^\+CLIP: ", r"^NO CARRIER$", r"^BUSY$", r"^NO ANSWER$",
    r"^\+CMTI: ", r"^\+CREG: ", r"^\+CEREG: ", r"^\+CPIN: ",
    r"^RDY$", r"^SMS DONE$", r"^PB DONE$", r"^Call Ready$", r"^SMS Ready$", r"^\+CFUN: ",
))

VENDORS = {
    "sim7600": Vendor(
        name="sim7600",
        init=(),
        hang_up="AT+CHUP",
        dtmf_urc=re.compile(r"^\+RXDTMF: ?(.)"),
        pin_attempts="AT+SPIC",
        pin_attempts_urc=re.compile(r"^\+SPIC: ?(\d+),(\d+)"),
        pcm_audio="AT+CPCMREG=1",
        call_begin=re.compile(r"^VOICE CALL: BEGIN"),
        call_end=re.compile(r"^VOICE CALL: END"),
    ),
    "sim800": Vendor(
        name="sim800",
        init=("AT+DDET=1",),
        hang_up="ATH",
        dtmf_urc=re.compile(r"^\+DTMF: ?(.)"),
        pin_attempts="AT+SPIC",
        pin_attempts_urc=re.compile(r"^\+SPIC: ?(\d+),(\d+)"),
    ),
    "ec25": Vendor(
        name="ec25",
        init=("AT+QTONEDET=1",),
        hang_up="AT+CHUP",
        dtmf_urc=re.compile(r"^\+QTONEDET: ?(\d+)"),
        dtmf_is_ascii_code=True,
        pin_attempts='AT+QPINC="SC"',
        pin_attempts_urc=re.compile(r'^\+QPINC: "SC",(\d+),(\d+)'),
    ),
}


def vendor(name: str) -> Vendor:
    try:
        return VENDORS[name]
    except KeyError:
        raise ValueError(f"unknown modem vendor {name!r} (one of {', '.join(VENDORS)})") from None


def is_urc(v: Vendor, line: str) -> bool:
    patterns = COMMON_URCS + (v.dtmf_urc,) + v.extra_urcs + tuple(p for p in (v.call_begin, v.call_end) if p)
    return any(p.match(line) for p in patterns)
