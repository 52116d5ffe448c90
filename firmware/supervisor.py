"""``smallpbx run``: the whole box in the foreground.

Starts Kamailio (configuration generated into DATA/run/kamailio), the
core daemon and the setup page (``--web-port``) as child processes, the way systemd runs them as units, and
stops both on Ctrl-C/SIGTERM. If either child dies, the other is stopped
too and the exit status says so: under systemd each unit restarts on its
own instead. A core that exits because it was asked to restart
(``RESTART_EXIT_STATUS``, from the setup page or ``smallpbx restart``) is
started again, as systemd's ``RestartForceExitStatus`` does.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

from firmware.config.store import ConfigStore
from firmware.core.control import RESTART_EXIT_STATUS, ControlClient
from firmware.errors import ControlError, SmallPbxError
from firmware.hw import detect_platform
from firmware.paths import BoxPaths, Ports
from firmware.proxy import kamailio

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 30


def proxy_settings(paths: BoxPaths, ports: Ports, settings: dict) -> kamailio.ProxySettings:
    return kamailio.ProxySettings(
        sip_bind=ports.sip_bind, sip_port=ports.sip_port,
        internal_port=ports.internal_port, core_port=ports.core_port,
        realm=settings["realm"], run_dir=paths.proxy_run,
        flood_limit=settings["flood_limit"],
        core_call_rate=settings["core_call_rate"],
    )


def prepare_proxy(paths: BoxPaths, ports: Ports) -> kamailio.ProxySettings:
    """Write Kamailio's cfg and credentials from the store; check the cfg."""
    store = ConfigStore(paths.data).open()
    settings = proxy_settings(paths, ports, store.settings())
    kamailio.prepare(settings, store.extensions())
    kamailio.check_config(settings)
    return settings


def core_command(paths: BoxPaths, ports: Ports, verbose: int) -> list[str]:
    argv = [sys.executable, "-m", "firmware", "--data", str(paths.data)]
    argv += ["-v"] * verbose
    argv += ["core", "--sip-bind", ports.sip_bind, "--sip-port", str(ports.sip_port),
             "--core-port", str(ports.core_port), "--internal-port", str(ports.internal_port),
             "--rtp-port", str(ports.rtp_port), "--trunk-port", str(ports.trunk_port)]
    return argv


def web_command(paths: BoxPaths, ports: Ports, web_port: int) -> list[str]:
    return [sys.executable, "-m", "firmware", "--data", str(paths.data), "web",
            "--host", ports.sip_bind, "--port", str(web_port), "--sip-port", str(ports.sip_port)]


def run_box(paths: BoxPaths, ports: Ports, verbose: int = 0, web_port: int = 0) -> int:
    platform = detect_platform()
    if platform.simulated:
        log.info("no Raspberry Pi found (%s): running with simulated hardware", platform.model)
    settings = prepare_proxy(paths, ports)

    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    children: dict[str, subprocess.Popen] = {}
    sim_modem = None
    if platform.simulated:
        from firmware.sim.service import SimulatedModem
        sim_modem = SimulatedModem(paths)
        sim_modem.start()
    try:
        # Children ignore the terminal's Ctrl-C; we stop them in order.
        children["kamailio"] = subprocess.Popen(kamailio.command(settings), preexec_fn=os.setpgrp)
        children["core"] = subprocess.Popen(core_command(paths, ports, verbose), preexec_fn=os.setpgrp)
        if web_port:
            children["web"] = subprocess.Popen(web_command(paths, ports, web_port), preexec_fn=os.setpgrp)
        client = ControlClient(paths.control_socket, timeout=2)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                client.request("ping")
                break
            except ControlError:
                if time.monotonic() > deadline or stop["signal"] or _dead(children):
                    log.error("the box did not start")
                    return 1
                time.sleep(0.1)
        log.info("SmallPBX is up: phones register at sip:%s:%d (realm %s); data in %s",
                 ports.sip_bind, ports.sip_port, settings.realm, paths.data)
        if web_port:
            log.info("setup page: http://%s:%d/", ports.sip_bind, web_port)
        if sim_modem is not None and not ConfigStore(paths.data).callcenter_tables()["lines"]:
            log.info("no line configured: add {\"id\": \"gsm1\", \"device\": \"sim\", \"route\": ...} "
                     "under 'lines' ('smallpbx callcenter load') to use the simulated modem")
        print(f"READY sip:{ports.sip_bind}:{ports.sip_port}", flush=True)
        while not stop["signal"]:
            dead = _dead(children)
            if dead == "core" and children["core"].returncode == RESTART_EXIT_STATUS:
                log.info("the core asked to be restarted: starting it again")
                children["core"] = subprocess.Popen(core_command(paths, ports, verbose), preexec_fn=os.setpgrp)
                continue
            if dead:
                log.error("%s exited with status %s: stopping the box", dead, children[dead].returncode)
                return 1
            time.sleep(0.2)
        log.info("stopping on signal %d", stop["signal"])
        return 0
    finally:
        _stop_all(children)
        if sim_modem is not None:
            sim_modem.close()


def _dead(children: dict[str, subprocess.Popen]) -> str | None:
    for name, proc in children.items():
        if proc.poll() is not None:
            return name
    return None


def _stop_all(children: dict[str, subprocess.Popen]) -> None:
    # The web page and the core first (the core hangs up its calls through
    # Kamailio), then Kamailio.
    for name in ("web", "core", "kamailio"):
        proc = children.get(name)
        if proc is None or proc.poll() is not None:
            continue
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.error("%s did not stop in 10 s: killed", name)
            proc.kill()
            proc.wait()


def exec_kamailio(paths: BoxPaths, ports: Ports) -> None:
    """For the systemd unit: generate the cfg, then become Kamailio."""
    settings = prepare_proxy(paths, ports)
    argv = kamailio.command(settings)
    os.execv(argv[0], argv)


__all__ = ["run_box", "exec_kamailio", "prepare_proxy", "SmallPbxError"]
