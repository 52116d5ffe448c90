"""The simulated modem that ``smallpbx run`` offers on a machine without the hat.

A person trying the box on a laptop has no SIM card: ``smallpbx run``
starts a SIM7600 emulator (AT port and voice PCM port on two ptys),
writes their paths to ``DATA/run/sim-modem.json`` (a line whose device
is ``sim`` uses them) and answers ``smallpbx sim ...`` on
``DATA/run/sim.sock``: ring the box from a number, press keys, hang up,
answer the box's outgoing call, send it a text, or make the modem
misbehave. The far end's voice is silence unless a test plays audio.
"""
from __future__ import annotations

import json
import logging

from firmware.core.control import ControlServer
from firmware.errors import ControlError
from firmware.fsutil import atomic_write_text
from firmware.paths import BoxPaths
from firmware.sim.modem_emulator import EmulatorError, ModemEmulator

log = logging.getLogger(__name__)


class SimulatedModem:
    def __init__(self, paths: BoxPaths):
        self.paths = paths
        self.modem = ModemEmulator("sim7600", pcm=True)
        self.server = ControlServer(paths.sim_socket, self.handle)

    def start(self) -> None:
        self.modem.start()
        self.paths.run.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.paths.sim_modem, json.dumps({"at": self.modem.path, "pcm": self.modem.pcm_path}))
        self.server.start()
        log.info("simulated SIM7600 on %s (PCM %s); try 'smallpbx sim ring'", self.modem.path, self.modem.pcm_path)

    def close(self) -> None:
        self.server.close()
        self.modem.close()
        self.paths.sim_modem.unlink(missing_ok=True)

    def handle(self, cmd: str, args: dict):
        m = self.modem
        try:
            if cmd == "ring":
                m.incoming_call(str(args.get("number") or "13800138000"))
            elif cmd == "hangup":
                m.remote_hangup()
            elif cmd == "answer":
                m.remote_answer()
            elif cmd == "dtmf":
                m.send_dtmf(str(args.get("digits", "")))
            elif cmd == "sms":
                m.deliver_sms(str(args.get("number") or "13800138000"), str(args.get("text", "")))
            elif cmd == "fault":
                m.misbehave(None if args.get("mode") in (None, "none") else str(args["mode"]))
            elif cmd != "state":
                raise ControlError(f"unknown command '{cmd}'")
        except (EmulatorError, ValueError) as exc:
            raise ControlError(str(exc)) from None
        return {"call": m.call_state, "dialled": m.dialled[-3:], "texts_sent": m.sent_sms[-3:],
                "audio_streaming": m.pcm_streaming}
