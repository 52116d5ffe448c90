"""The core daemon: SIP engine, control socket, systemd notify/watchdog.

Threads: the main thread owns pjsua2 (see engine.py); the control server
runs on its own threads and reaches the engine only via ``request``.
Kamailio's registrations are read by the control thread over Kamailio's
RPC socket (no pjsua2 involved).
"""
from __future__ import annotations

import base64
import faulthandler
import io
import json
import logging
import signal
import threading
import time

from firmware import __version__
from firmware.config.store import ConfigStore
from firmware.config import callcenter, lines as lines_config
from firmware.core.contact import ContactCenter
from firmware.core.control import RESTART_EXIT_STATUS, RESTART_WHEN, ControlServer
from firmware.core.engine import SipEngine
from firmware.core.events import OwnerCall
from firmware.hw.network import box_address
from firmware.hw.pins import pin_factory
from firmware.lines.alerts import Alerter
from firmware.lines.bank import LineBank
from firmware.lines.fxo_line import FxoLine
from firmware.lines.gsm_line import GsmLine
from firmware.lines.sip_trunk import SipTrunkLine
from firmware.hw.platform import detect_platform
from firmware.panel.build import build_panel
from firmware.panel.indicators import from_status
from firmware.core.prompts import ensure_default_prompts
from firmware.core.sdnotify import Notifier
from firmware.core.service_calls import ServiceCalls
from firmware.errors import ControlError, SmallPbxError
from firmware.paths import BoxPaths, Ports
from firmware.proxy import kamailio
from firmware.records.recordings import Recordings
from firmware.records.store import RecordStore
from firmware.records.voicemail import Voicemail

log = logging.getLogger(__name__)

# The loop is unhealthy when posted events pile up (it stopped draining).
MAX_HEALTHY_BACKLOG = 1000


class CoreDaemon:
    def __init__(self, paths: BoxPaths, ports: Ports):
        self.paths = paths
        self.ports = ports
        self.store = ConfigStore(paths.data)
        self.stop = threading.Event()
        self.notifier = Notifier()
        self.engine = SipEngine(
            ports,
            load_config=lambda: (self.store.settings(), self.store.extensions()),
            prompts_dir=paths.prompts,
            on_config=self._sync_proxy,
        )
        self.records = RecordStore(paths.data / "records.db")
        self.recordings = Recordings(paths.data / "recordings")
        self.voicemail = Voicemail(paths.data / "voicemail")
        self.contact = ContactCenter(self.engine, self.engine._prompt_path, self.records, self.recordings,
                                     set_override=self._set_override, voicemail=self.voicemail,
                                     agents_file=paths.data / "agents.json")
        self.engine.commands["override"] = lambda args: self._set_override(
            str(args.get("id")), args.get("mode") or None)
        self.alerter = Alerter(self.store.settings)
        self.lines = LineBank(self.engine, self.records, self._make_line, alerter=self.alerter)
        self._line_pins = None
        self.engine.route_hook = lambda dialed, caller: (self.contact.route(dialed, caller)
                                                         or self.lines.route(dialed, caller))
        self.engine.line_leg_ended = self.lines.leg_gone
        self.engine.trunk_state_hook = self.lines.trunk_state
        self.service = ServiceCalls(self.engine, paths.prompts, self.engine._prompt_path, self.lines,
                                    work_dir=paths.run / "prompt-recordings")
        self.engine.commands["record-prompt"] = lambda args: self.service.record_prompt(
            str(args.get("extension", "")), str(args.get("name", "")), str(args.get("language", "")))
        self.engine.commands["test-call"] = lambda args: self.service.test_call(
            str(args.get("line", "")), str(args.get("number", "")))
        self.engine.commands["service-call"] = lambda args: self.service.status(str(args.get("id", "")))
        self.engine.commands["lines"] = lambda args: self.lines.status()
        self.engine.commands["sms-send"] = lambda args: self.lines.send_sms(
            str(args.get("number", "")), str(args.get("text", "")), args.get("line") or None)
        self.engine.commands["callcenter-status"] = lambda args: self.contact.snapshot()
        self.engine.commands["agent"] = lambda args: self.contact.agent_command(
            str(args.get("action")), str(args.get("extension")), str(args.get("reason") or "break"))
        self.control = ControlServer(paths.control_socket, self.handle_command)
        self.panel = None
        self.address = ""
        self._panel_at = 0.0
        self._proxy_ok = True
        self.engine.commands["panel"] = lambda args: self._panel_info()
        self.rpc = kamailio.RpcClient(paths.proxy_run / "kamailio_rpc.sock", timeout=1.0)
        self._last_ping = 0.0
        self._next_sweep = 0.0
        self.restart_pending: str | None = None   # "idle": restart once no call is up
        self.exit_status = 0

    def _sync_proxy(self, _settings: dict, extensions: list) -> None:
        # The credential table is derived from the store; the core keeps it true.
        kamailio.write_credentials(self.paths.proxy_run / "db", extensions)
        document = self.store.read_document()
        center = callcenter.build(document)
        self.contact.configure(center, {e["number"] for e in extensions},
                               {e["number"]: e.get("name", "") for e in extensions})
        self.lines.configure(lines_config.build(document, set(center.routes)))

    def _make_line(self, config: dict, listener):
        """A line driver for a line record; ``sim`` is the modem ``smallpbx run`` emulates."""
        config = dict(config)
        if config["kind"] == "sip":
            return SipTrunkLine(config, self.engine, listener)
        if config["kind"] == "fxo":
            return FxoLine(config, listener=listener, post=lambda fn: self.engine.post(OwnerCall(fn=fn)))
        if config["device"] == "sim":
            try:
                sim = json.loads(self.paths.sim_modem.read_text())
                config["device"], config["pcm_device"] = sim["at"], sim.get("pcm") or ""
            except (OSError, ValueError, KeyError):
                log.error("line %s is the simulated modem, but 'smallpbx run' has not started one",
                          config["id"])
                config["device"] = str(self.paths.run / "no-simulated-modem")
        power_pin = None
        if config.get("power_pin") is not None:
            if self._line_pins is None:
                self._line_pins = pin_factory("mock" if detect_platform().simulated else None)
            power_pin = self._line_pins.pin(config["power_pin"])
        return GsmLine(config, listener=listener, post=lambda fn: self.engine.post(OwnerCall(fn=fn)),
                       power_pin=power_pin)

    def _set_override(self, condition_id: str, mode: str | None) -> dict:
        """Owner thread: store the day/night override, then apply it."""
        self.store.set_override(condition_id, mode)
        self.engine.reload()
        return {"id": condition_id, "override": mode or "auto"}

    def handle_command(self, cmd: str, args: dict):
        """Control socket entry point (control threads)."""
        if cmd == "ping":
            return {"pong": True, "version": __version__}
        if cmd == "status":
            status = self.engine.request("engine-status")
            try:
                status["registrations"] = self.rpc.registrations()
                status["proxy"] = self.rpc.call("core.version")
            except SmallPbxError as exc:
                status["registrations"] = []
                status["proxy"] = f"unreachable: {exc}"
            status["version"] = __version__
            status["callcenter"] = self.engine.request("callcenter-status")
            status["lines"] = self.engine.request("lines")
            status["restart_pending"] = self.restart_pending
            return status
        if cmd == "restart":
            return self._restart(str(args.get("when", "idle")))
        if cmd in ("reload", "originate", "hangup", "override", "panel", "lines", "sms-send",
                   "record-prompt", "test-call", "service-call"):
            return self.engine.request(cmd, args)
        if cmd == "sms-list":
            return self.records.sms(limit=int(args.get("limit", 50)))
        if cmd == "line-events":
            return self.records.line_events(limit=int(args.get("limit", 50)))
        if cmd in ("agent-login", "agent-logout", "agent-pause", "agent-unpause"):
            return self.engine.request("agent", {**args, "action": cmd.split("-", 1)[1]})
        raise ControlError(f"unknown command '{cmd}'")

    def _restart(self, when: str) -> dict:
        """Control thread: restart now (calls are cut), once no call is up
        (Asterisk's "restart when convenient": calls keep being answered
        meanwhile), or cancel a pending one. The core exits with
        RESTART_EXIT_STATUS and its supervisor starts it again."""
        if when not in RESTART_WHEN:
            raise ControlError(f"when must be one of {', '.join(RESTART_WHEN)}, not {when!r}")
        if when == "cancel":
            cancelled, self.restart_pending = self.restart_pending is not None, None
            if cancelled:
                log.info("the pending restart was cancelled")
            return {"restart": None, "cancelled": cancelled}
        if when == "now":
            self._exit_for_restart("restart asked for now")
            return {"restart": "now"}
        self.restart_pending = "idle"
        log.info("restart asked for when no call is up")
        return {"restart": "idle"}

    def _exit_for_restart(self, why: str) -> None:
        log.warning("%s: the core stops and is started again", why)
        self.exit_status = RESTART_EXIT_STATUS
        self.stop.set()

    def _sweep_recordings(self) -> None:
        settings = self.store.settings()
        removed = self.recordings.sweep(time.time(), settings["recording_keep_days"],
                                        settings["recording_max_mb"] * 1024 * 1024)
        if removed:
            log.info("retention removed %d old recordings", len(removed))
        self._next_sweep = time.monotonic() + 3600

    def _start_panel(self) -> None:
        """The front panel follows the core; without hardware it runs on mock pins."""
        self.address = box_address()
        settings = self.store.settings()
        self.panel = build_panel(
            simulated=detect_platform().simulated, language=settings["language"],
            pins=settings["panel_pins"], display_kind=settings["panel_display"],
            on_night_toggle=lambda: self.engine.post(OwnerCall(fn=lambda: self.contact._toggle_night_mode("panel"))),
            on_recovery=self._request_admin_reset)
        if self.panel is not None:
            self.panel.start()
            threading.Thread(target=self._watch_proxy, name="proxy-watch", daemon=True).start()

    def _request_admin_reset(self) -> None:
        """The panel's very long press at boot: the web page reopens its password
        step at its next request (the flag's time says when); nothing else changes."""
        flag = self.paths.run / "admin-reset"
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.touch()
        log.warning("panel: admin password reset requested; the setup page asks for a new one")

    def _watch_proxy(self) -> None:
        # Kamailio's health for the fault LED, asked off the owner thread.
        while not self.stop.wait(5.0):
            try:
                self.rpc.call("core.version")
                ok = True
            except SmallPbxError:
                ok = False
            if ok != self._proxy_ok:
                self._proxy_ok = ok
                self.contact.changed = True

    def _panel_state(self):
        status = self.engine._cmd_status({})
        status["callcenter"] = self.contact.snapshot()
        status["lines"] = self.lines.status()
        status["proxy"] = "ok" if self._proxy_ok else "unreachable"
        return from_status(status, self.address)

    def _update_panel(self) -> None:
        now = time.monotonic()
        waiting = self.panel.state.waiting > 0
        if (self.engine.changed or self.contact.changed or self.lines.changed
                or (waiting and now - self._panel_at >= 1.0)):
            self.engine.changed = self.contact.changed = self.lines.changed = False
            self._panel_at = now
            self.panel.update(self._panel_state())

    def _panel_info(self) -> dict:
        if self.panel is None:
            raise ControlError("this box has no front panel")
        buf = io.BytesIO()
        self.panel.image().convert("L").save(buf, format="PNG")
        leds = self.panel.leds.modes() if self.panel.leds is not None else {}
        return {"page": self.panel.current_page(),
                "leds": {name: mode.value for name, mode in leds.items()},
                "display": self.panel.display is not None and not self.panel.display_failed,
                "png_base64": base64.b64encode(buf.getvalue()).decode()}

    def _tick(self) -> None:
        self.contact.tick()
        self.lines.tick()
        if self.restart_pending == "idle" and not self.engine.calls:
            self.restart_pending = None
            self._exit_for_restart("no call is up")
        if self.panel is not None:
            self._update_panel()
        if time.monotonic() >= self._next_sweep:
            self._sweep_recordings()
        interval = self.notifier.watchdog_interval
        if interval is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= interval and self.engine.backlog() < MAX_HEALTHY_BACKLOG:
            self.notifier.watchdog()
            self._last_ping = now

    def run(self) -> int:
        # A pjsua assertion aborts the process: leave a Python traceback.
        faulthandler.enable()
        self.store.open()
        self.records.open()
        self.recordings.recover()
        if self.voicemail.recover():
            log.warning("kept voicemail messages cut short by a crash")
        self._sweep_recordings()
        ensure_default_prompts(self.paths.prompts)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        self.engine.start()
        self.contact.restore_agents()
        self._start_panel()
        try:
            self.control.start()
            self.notifier.ready(f"{self.engine.admission.limit} call slots")
            log.info("core ready; control socket %s", self.paths.control_socket)
            self.engine.run(self.stop, tick=self._tick)
        finally:
            self.notifier.stopping()
            self.control.close()
            if self.panel is not None:
                self.panel.close()
            self.lines.close()
            self.engine.close()
            self.records.close()
            log.info("core stopped")
        return self.exit_status
