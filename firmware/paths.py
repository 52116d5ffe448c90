"""Where the box keeps things, and the ports its processes talk on.

Every command takes ``--data DIR``; everything the box writes lives below it:

    DIR/config.json        configuration (tinydb, one writer: config/store.py)
    DIR/config.lock        the writers' lock
    DIR/prompts/           voice prompts (8 kHz mono WAV), generated at start
    DIR/run/               runtime: control socket, Kamailio's cfg/pid/rpc
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = Path(os.environ.get("SMALLPBX_DATA", "/var/lib/smallpbx"))


@dataclass(frozen=True)
class BoxPaths:
    data: Path

    @property
    def run(self) -> Path:
        return self.data / "run"

    @property
    def control_socket(self) -> Path:
        return self.run / "core.sock"

    @property
    def proxy_run(self) -> Path:
        return self.run / "kamailio"

    @property
    def prompts(self) -> Path:
        return self.data / "prompts"

    @property
    def sim_modem(self) -> Path:
        """Where ``smallpbx run`` tells the core its simulated modem's ptys."""
        return self.run / "sim-modem.json"

    @property
    def sim_socket(self) -> Path:
        """The simulated modem's control socket (``smallpbx sim ...``)."""
        return self.run / "sim.sock"


@dataclass(frozen=True)
class Ports:
    """The box's SIP addresses.

    :param sip_bind: where phones reach Kamailio (loopback in simulation).
    :param sip_port: phones' SIP port.
    :param core_port: the core's SIP port on 127.0.0.1 (Kamailio's peer).
    :param internal_port: Kamailio's own port on 127.0.0.1 facing the core.
    :param rtp_port: first RTP port of the core.
    :param trunk_port: the core's SIP port for providers' trunks (on ``sip_bind``).
    """

    sip_bind: str = "127.0.0.1"
    sip_port: int = 5060
    core_port: int = 5070
    internal_port: int = 5071
    rtp_port: int = 20000
    trunk_port: int = 5080
