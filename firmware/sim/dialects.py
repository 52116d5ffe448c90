"""The vendors' AT dialects, as data: what differs between the emulated modules.

Owns: :class:`Dialect` and the table :data:`DIALECTS` (SIMCom SIM7600E-H,
SIMCom SIM800L, Quectel EC25), written from the vendors' AT manuals. Pure
data: no I/O, no state. The command handlers read it; nothing here knows
how a command is executed. A new vendor is a new row, never a new branch in
the handlers.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """How one vendor's module talks; everything vendor-specific is here."""

    vendor: str
    manufacturer: str                  # AT+CGMI
    model: str                         # AT+CGMM
    revision: str                      # AT+CGMR
    ati: tuple[str, ...]               # ATI lines; "{imei}" is filled in
    lte: bool                          # has +CEREG; +COPS access technology 7
    clip_tail: str                     # +CLIP fields after <number>,<type>
    dtmf_urc: str                      # "{key}" or "{code}" (ASCII code)
    dtmf_switch: str | None            # command enabling DTMF reports, or None
    voice_call_urcs: bool              # VOICE CALL: BEGIN / END: <hhmmss>
    boot_urcs: tuple[str, ...]         # at power-on, before +CPIN: <state>
    ready_urcs: tuple[str, ...]        # once the SIM is READY
    charset: str                       # +CSCS after power-on
    cmgr_empty_ok: bool                # AT+CMGR on an empty slot: OK, not 321
    commands: frozenset[str]           # which VENDOR_COMMANDS it knows


# Commands only some modules know; the others answer them as unknown.
VENDOR_COMMANDS = frozenset(
    {"+CEREG", "+SPIC", "+QPINC", "+DDET", "+QTONEDET", "+CPCMREG", "+CRESET"})

DIALECTS: dict[str, Dialect] = {
    "sim7600": Dialect(
        vendor="sim7600",
        manufacturer="SIMCOM INCORPORATED",
        model="SIMCOM_SIM7600E-H",
        revision="LE20B04SIM7600M22",
        ati=("Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600E-H",
             "Revision: LE20B04SIM7600M22", "IMEI: {imei}", "+GCAP: +CGSM"),
        lte=True,
        clip_tail=",,,,0",
        dtmf_urc="+RXDTMF: {key}",
        dtmf_switch=None,
        voice_call_urcs=True,
        boot_urcs=("RDY",),
        ready_urcs=("SMS DONE", "PB DONE"),
        charset="IRA",
        cmgr_empty_ok=False,
        commands=frozenset({"+CEREG", "+SPIC", "+CPCMREG", "+CRESET"}),
    ),
    "sim800": Dialect(
        vendor="sim800",
        manufacturer="SIMCOM_Ltd",
        model="SIM800L",
        revision="Revision:1418B04SIM800L24",
        ati=("SIM800 R14.18",),
        lte=False,
        clip_tail=',"",0,"",0',
        dtmf_urc="+DTMF: {key}",
        dtmf_switch="+DDET",
        voice_call_urcs=False,
        boot_urcs=("RDY", "+CFUN: 1"),
        ready_urcs=("Call Ready", "SMS Ready"),
        charset="IRA",
        cmgr_empty_ok=True,
        commands=frozenset({"+SPIC", "+DDET"}),
    ),
    "ec25": Dialect(
        vendor="ec25",
        manufacturer="Quectel",
        model="EC25",
        revision="EC25EFAR06A06M4G",
        ati=("Quectel", "EC25", "Revision: EC25EFAR06A06M4G"),
        lte=True,
        clip_tail=",,,,0",
        dtmf_urc="+QTONEDET: {code}",
        dtmf_switch="+QTONEDET",
        voice_call_urcs=False,
        boot_urcs=("RDY", "+CFUN: 1"),
        ready_urcs=("+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"),
        charset="GSM",
        cmgr_empty_ok=False,
        commands=frozenset({"+CEREG", "+QPINC", "+QTONEDET"}),
    ),
}
