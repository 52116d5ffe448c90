"""The pjsua2 adapter: the only module that talks to pjsua2.

Thread ownership: pjsua2 is created, driven and destroyed by one owner
thread (the one that calls :meth:`SipEngine.start` and :meth:`SipEngine.run`),
with ``threadCnt=0`` and ``mainThreadOnly=True`` so every SIP callback runs
there too. Every other thread reaches the engine only through
:meth:`SipEngine.post` / :meth:`SipEngine.request` (a thread-safe queue);
calling pjsua2 from an unregistered thread aborts the whole process.

It turns pjsua2 callbacks into decisions of the pure telephony core
(:mod:`firmware.telephony`) and those decisions back into pjsua2 calls.

Lifetime rule: every pjsua2 object (Call, player, account) is referenced
from ``self._legs``/``self`` for as long as it lives: a dropped ``Call``
answers 603, a dropped player goes silent. They are dropped (``LegGone``)
after the call is over, outside its own callback, and all are dropped
followed by ``gc.collect()`` before ``libDestroy()`` (a ``Call`` whose
destructor runs after it aborts the process: even a loop variable counts).
As a second guard the process leaves with ``os._exit`` after :meth:`close`
(``firmware.cli``), so no late destructor runs in interpreter teardown.
"""
from __future__ import annotations

import ctypes
import gc
import heapq
import itertools
import logging
import queue
import socket
import time
import wave
from pathlib import Path
from typing import Callable

import pjsua2 as pj

from firmware import __version__
from firmware.core import sipmsg
from firmware.core.events import ControlRequest, Event, LegGone, OwnerCall, ReloadConfig
from firmware.core.lineport import LinePort, PortLeg
from firmware.errors import CapacityError, ControlError
from firmware.paths import Ports
from firmware.telephony.calls import ActiveCall, Admission, CallTable, Direction
from firmware.telephony.dialplan import App, Dialplan

log = logging.getLogger(__name__)

CLOCK_RATE = 8000
# G.711 first (the bridge runs at 8 kHz), G.722 for phones that insist.
CODEC_PRIORITY = {"PCMA/8000/1": 250, "PCMU/8000/1": 240, "G722/16000/1": 200}
REQUESTED_MAX_CALLS = 64
HANDLE_EVENTS_MS = 10
FIRST_LINE_LEG_ID = 1000   # line legs' ids, far from pjsua's call ids (0..max-1)


def engine_call_limit(requested: int) -> int:
    """Call slots pjsua really has (PJSUA_MAX_CALLS clamps ``maxCalls`` silently).

    pjsua2's Python API has no getter, but the C function
    ``pjsua_call_get_max_count`` is exported by the same shared object.
    """
    try:
        lib = ctypes.CDLL(pj._pjsua2.__file__)
        return int(lib.pjsua_call_get_max_count())
    except (OSError, AttributeError):
        log.warning("cannot read pjsua's call limit; assuming the requested %d", requested)
        return requested


def _resolve(host: str) -> set[str]:
    """The addresses a trunk's provider may call from (its server's)."""
    try:
        return {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_UDP)}
    except OSError as exc:
        log.error("cannot resolve trunk server %s: %s (its calls will be refused)", host, exc)
        return set()


def _line_end_status(reason: str, *, answered: bool) -> int:
    """A line's end of call in SIP terms, for owners that read statuses."""
    if reason == "hung up by the box":
        return 487
    if answered:
        return 200
    return {"busy": 486, "no answer": 480}.get(reason, 480)


def _guarded(method):
    """No Python exception may cross back into pjsua from a callback: log it."""
    def wrapper(self, *args):
        try:
            return method(self, *args)
        except Exception:
            log.exception("pjsua callback %s failed", method.__name__)
    wrapper.__name__ = method.__name__
    return wrapper


class _PjLog(pj.LogWriter):
    """pjsua's log into Python logging (may run on pjsua's media thread)."""

    LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING}

    def write(self, entry):
        logging.getLogger("pjsua").log(self.LEVELS.get(entry.level, logging.DEBUG), "%s", entry.msg.rstrip())


class _Account(pj.Account):
    def __init__(self, engine: "SipEngine"):
        super().__init__()
        self.engine = engine

    @_guarded
    def onIncomingCall(self, prm):
        self.engine._on_incoming_call(prm)


class _TrunkAccount(pj.Account):
    """A provider's trunk (or an FXO gateway): registration and its calls."""

    def __init__(self, engine: "SipEngine", config: dict, allowed_hosts: set[str]):
        super().__init__()
        self.engine = engine
        self.name = config["id"]
        self.config = config
        self.allowed_hosts = allowed_hosts

    @_guarded
    def onIncomingCall(self, prm):
        self.engine._on_incoming_call(prm, trunk=self)

    @_guarded
    def onRegState(self, prm):
        self.engine._on_trunk_registration(self, prm.code, prm.reason, prm.expiration)


class _Endpoint(pj.Endpoint):
    def __init__(self, engine: "SipEngine"):
        super().__init__()
        self.engine = engine

    @_guarded
    def onSelectAccount(self, prm):
        # pjsua matches a request to an account by its URI, which a
        # provider's INVITE does not carry; its source address tells.
        trunk = self.engine._trunk_for_source(prm.rdata.srcAddress)
        if trunk is not None:
            prm.accountIndex = trunk.getId()

    @_guarded
    def onRejectedIncomingCall(self, prm):
        # pjsua refused a call before we saw it: no slot left (or similar).
        self.engine.rejected_by_engine += 1
        log.warning("call from %s refused by the media engine: %s %s",
                    prm.remoteInfo, prm.statusCode, prm.reason)


class _Leg(pj.Call):
    """One call leg terminated by the core; events go to the engine."""

    def __init__(self, engine: "SipEngine", account, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.engine = engine
        self.app: App | None = None
        self.prompt: Path | None = None
        self.player = None
        self.player_token = 0
        self.audio = None          # the call's AudioMedia once media is up
        self.media_started = False
        self.early_media = False   # media came up before the far end answered
        self.recorder = None
        self.owner = None          # a LegOwner (e.g. the contact center) or None
        self.uid = ""              # the owner's id for the call this leg serves

    @_guarded
    def onCallState(self, prm):
        self.engine._on_call_state(self)

    @_guarded
    def onDtmfDigit(self, prm):
        if self.owner is not None:
            self.owner.leg_digit(self.getId(), prm.digit)

    @_guarded
    def onCallMediaState(self, prm):
        self.engine._on_call_media_state(self)


class SipEngine:
    """pjsua2 endpoint, the core's SIP account and the calls it terminates.

    :param ports: where the core listens and where Kamailio's trusted leg is.
    :param load_config: returns ``(settings, extensions)`` from the store.
    :param prompts_dir: directory of 8 kHz mono WAV prompts.
    :param on_config: called with ``(settings, extensions)`` after every
        (re)load, on the owner thread (e.g. to rewrite Kamailio credentials).
    """

    def __init__(self, ports: Ports, *, load_config: Callable[[], tuple[dict, list]],
                 prompts_dir: Path, on_config: Callable[[dict, list], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.ports = ports
        self.load_config = load_config
        self.on_config = on_config
        self.prompts_dir = Path(prompts_dir)
        self.clock = clock
        self.trusted_source = f"127.0.0.1:{ports.internal_port}"
        self.calls = CallTable()
        self.admission = Admission(engine_limit=0)
        self.dialplan = Dialplan()
        self.settings: dict = {}
        self.rejected_by_engine = 0
        self.started_at = clock()
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._legs: dict[int, _Leg | PortLeg] = {}
        self._line_ports: dict[str, LinePort] = {}
        self._line_leg_ids = itertools.count(FIRST_LINE_LEG_ID)
        self._ep: _Endpoint | None = None
        self._account: _Account | None = None
        self._logwriter = None
        self._destroyed = False
        self.changed = False
        # (dialed, caller) -> a leg owner that takes the call, or None.
        self.route_hook: Callable[[str, str], object | None] | None = None
        # (line name, call id) after a line's call ended, whoever ended it.
        self.line_leg_ended: Callable[[str, int], None] | None = None
        # (trunk name, state, detail) when a trunk's registration changes.
        self.trunk_state_hook: Callable[[str, str, str], None] | None = None
        self._trunks: dict[str, _TrunkAccount] = {}
        self._trunk_transport: int | None = None
        self.handlers = {
            ControlRequest: self._on_control,
            ReloadConfig: lambda _e: self.reload(),
            LegGone: self._on_leg_gone,
            OwnerCall: lambda e: e.fn(),
        }
        self.commands = {
            "engine-status": self._cmd_status,
            "reload": lambda args: self.reload(),
            "originate": self._cmd_originate,
            "hangup": self._cmd_hangup,
        }

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        """Create pjsua2 on the calling thread, which becomes the owner."""
        ep = _Endpoint(self)
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = REQUESTED_MAX_CALLS
        cfg.uaConfig.userAgent = f"SmallPBX core {__version__}"
        self._logwriter = _PjLog()
        cfg.logConfig.writer = self._logwriter
        cfg.logConfig.level = 4 if logging.getLogger("pjsua").isEnabledFor(logging.DEBUG) else 2
        cfg.logConfig.consoleLevel = 0
        cfg.logConfig.decor = 0
        cfg.medConfig.clockRate = CLOCK_RATE
        cfg.medConfig.sndClockRate = CLOCK_RATE
        cfg.medConfig.ecTailLen = 0   # a server must not "cancel" the caller's echo test
        cfg.medConfig.noVad = True
        cfg.medConfig.channelCount = 1
        ep.libInit(cfg)
        self._ep = ep

        tcfg = pj.TransportConfig()
        tcfg.boundAddress = "127.0.0.1"
        tcfg.port = self.ports.core_port
        ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        ep.libStart()
        ep.audDevManager().setNullDev()
        for codec in ep.codecEnum2():
            ep.codecSetPriority(codec.codecId, CODEC_PRIORITY.get(codec.codecId, 0))

        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:smallpbx@127.0.0.1:{self.ports.core_port}"
        acfg.mediaConfig.transportConfig.port = self.ports.rtp_port
        acfg.mediaConfig.transportConfig.portRange = 1000
        if self.ports.sip_bind not in ("0.0.0.0", "::", ""):
            acfg.mediaConfig.transportConfig.boundAddress = self.ports.sip_bind
        self._account = _Account(self)
        self._account.create(acfg)

        self.admission.engine_limit = engine_call_limit(REQUESTED_MAX_CALLS)
        self.reload()
        log.info("core SIP on 127.0.0.1:%d, %d call slots (pjsua %s)",
                 self.ports.core_port, self.admission.engine_limit, ep.libVersion().full)

    def run(self, stop, tick: Callable[[], None] | None = None) -> None:
        """The owner loop: pjsua events, posted events, timers, until ``stop``."""
        while not stop.is_set():
            self._ep.libHandleEvents(HANDLE_EVENTS_MS)
            self._drain()
            self._run_timers()
            if tick:
                tick()

    def close(self) -> None:
        """Hang up everything and destroy pjsua2 without an abort at exit."""
        if self._ep is None or self._destroyed:
            return
        ep = self._ep
        try:
            ep.hangupAllCalls()
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and any(
                    c.isActive() for c in self._legs.values() if isinstance(c, _Leg)):
                ep.libHandleEvents(20)
        except pj.Error as exc:
            log.warning("hanging up at shutdown: %s", exc.info())
        # No loop variable may outlive this: a Call alive after libDestroy()
        # aborts the process in its destructor.
        for call_id in list(self._legs):
            self._legs[call_id].player = None
            self._legs[call_id].recorder = None
        self._legs.clear()
        self._line_ports.clear()
        for trunk in self._trunks.values():
            trunk.shutdown()
        self._trunks.clear()
        if self._account is not None:
            self._account.shutdown()
        self._account = None
        gc.collect()
        ep.libDestroy()
        self._destroyed = True

    # ---------------------------------------------------------- cross-thread
    def post(self, event: Event) -> None:
        """Thread-safe: queue an event for the owner thread."""
        self._queue.put(event)

    def request(self, command: str, args: dict | None = None, timeout: float = 5.0):
        """Thread-safe: run a command on the owner thread and wait for it."""
        req = ControlRequest(command=command, args=args or {})
        self.post(req)
        if not req.done.wait(timeout):
            raise ControlError(f"the core did not answer '{command}' within {timeout} s")
        if req.error:
            raise req.error
        return req.result

    def backlog(self) -> int:
        return self._queue.qsize()

    def _drain(self) -> None:
        for _ in range(256):  # bounded, so a flood can't starve pjsua
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return
            handler = self.handlers.get(type(event))
            try:
                handler(event)
            except Exception:  # one bad event must not stop the box
                log.exception("handling %s failed", type(event).__name__)

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (self.clock() + delay, next(self._timer_seq), fn))

    def _run_timers(self) -> None:
        now = self.clock()
        while self._timers and self._timers[0][0] <= now:
            _, _, fn = heapq.heappop(self._timers)
            try:
                fn()
            except Exception:
                log.exception("timer failed")

    # --------------------------------------------------------------- config
    def reload(self) -> dict:
        settings, extensions = self.load_config()
        self.settings = settings
        self.admission.configured_limit = settings.get("max_calls")
        self.dialplan = Dialplan({e["number"] for e in extensions})
        if self.on_config:
            self.on_config(settings, extensions)
        log.info("config loaded: %d extensions, call limit %d", len(extensions), self.admission.limit)
        return {"extensions": len(extensions), "call_limit": self.admission.limit}

    # ---------------------------------------------------------------- calls
    def _on_incoming_call(self, prm, trunk: "_TrunkAccount | None" = None) -> None:
        leg = _Leg(self, trunk or self._account, prm.callId)
        self._legs[prm.callId] = leg
        try:
            if trunk is not None:
                self._route_trunk_call(leg, prm, trunk)
            else:
                self._route_incoming(leg, prm)
        except Exception:
            # Never leave a caller hanging on a bug: log it and refuse.
            log.exception("routing incoming call %d failed", prm.callId)
            self.calls.ended(prm.callId)
            op = pj.CallOpParam()
            op.statusCode = 500
            leg.hangup(op)

    def _route_incoming(self, leg: _Leg, prm) -> None:
        rdata = prm.rdata
        message = rdata.wholeMsg
        op = pj.CallOpParam()
        if rdata.srcAddress != self.trusted_source:
            log.warning("SECURITY: INVITE from %s bypassed the proxy: refused 403", rdata.srcAddress)
            op.statusCode = 403
            leg.hangup(op)
            return
        dialed = sipmsg.request_uri_user(message) or ""
        caller = sipmsg.header(message, "X-SmallPBX-Caller") or "unknown"
        if not self.admission.admit(self.calls.slot_count()):
            # 486, not 503: a proxy must turn a 503 into 500 (RFC 3261
            # 16.7), and the phone should play busy, as it does when
            # pjsua itself runs out of slots.
            log.warning("call %s -> %s refused 486: all %d call slots in use",
                        caller, dialed, self.admission.limit)
            op.statusCode = 486
            op.reason = "Busy Here"
            leg.hangup(op)
            return
        owner = self.route_hook(dialed, caller) if self.route_hook else None
        if owner is not None:
            leg.owner = owner
            self.calls.add(ActiveCall(prm.callId, Direction.INBOUND, caller, dialed, "callcenter", self.clock()))
            log.info("call %s -> %s: call center", caller, dialed)
            owner.leg_incoming(prm.callId, caller, dialed)
            return
        dest = self.dialplan.route(dialed)
        if dest.app in (App.REJECT, App.DIAL):
            # DIAL: extensions are reached through Kamailio, never via the core.
            op.statusCode = dest.status or 404
            leg.hangup(op)
            log.info("call %s -> %r refused %d", caller, dialed, op.statusCode)
            return
        leg.app = dest.app
        leg.prompt = self._prompt_path(dest.target) if dest.app is App.PLAYBACK else None
        self.calls.add(ActiveCall(prm.callId, Direction.INBOUND, caller, dialed, dest.app.value, self.clock()))
        log.info("call %s -> %s: %s", caller, dialed, dest.app.value)
        op.statusCode = 200
        leg.answer(op)

    def _prompt_path(self, name: str) -> Path:
        """The owner's own recording first, then the default, in the box's language."""
        language = self.settings.get("language", "en")
        for lang in (language, "en"):
            for folder in (self.prompts_dir / "custom" / lang, self.prompts_dir / lang):
                path = folder / f"{name}.wav"
                if path.exists():
                    return path
        return self.prompts_dir / "en" / f"{name}.wav"

    def _on_call_state(self, leg: _Leg) -> None:
        self.changed = True  # the front panel redraws
        info = leg.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.calls.answered(info.id, self.clock())
            if leg.early_media and not leg.media_started:
                leg.early_media = False
                self._on_call_media_state(leg)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            ended = self.calls.ended(info.id)
            if ended:
                log.info("call %d ended (%s %s)", info.id, info.lastStatusCode, info.lastReason)
            if leg.player is not None:
                leg.player = None
            # Dropping the recorder closes its WAV (writes the final sizes).
            leg.recorder = None
            if leg.owner is not None:
                leg.owner.leg_ended(info.id, info.lastStatusCode)
            self.post(LegGone(call_id=info.id))

    def _on_call_media_state(self, leg: _Leg) -> None:
        info = leg.getInfo()
        if (leg.owner is not None and info.role == pj.PJSIP_ROLE_UAC
                and info.state != pj.PJSIP_INV_STATE_CONFIRMED):
            # Early media (a provider's ringback): the far end has not
            # answered yet; the owner hears of it at CONFIRMED.
            leg.early_media = True
            return
        for index, media in enumerate(info.media):
            if media.type != pj.PJMEDIA_TYPE_AUDIO or media.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            if leg.media_started:
                return
            leg.media_started = True
            audio = leg.getAudioMedia(index)
            leg.audio = audio
            if leg.owner is not None:
                leg.owner.leg_media_ready(info.id)
            elif leg.app is App.ECHO:
                audio.startTransmit(audio)
            elif leg.app is App.PLAYBACK and leg.prompt is not None:
                self._play_then_hang_up(leg, audio)
            return

    def _play_then_hang_up(self, leg: _Leg, audio) -> None:
        try:
            with wave.open(str(leg.prompt), "rb") as w:
                seconds = w.getnframes() / float(w.getframerate())
            player = pj.AudioMediaPlayer()
            player.createPlayer(str(leg.prompt), pj.PJMEDIA_FILE_NO_LOOP)
        except (OSError, wave.Error, pj.Error) as exc:
            log.error("prompt %s cannot be played: %s", leg.prompt, exc)
            self.call_later(0.0, lambda: self._hangup_leg(leg.getId()))
            return
        leg.player = player
        player.startTransmit(audio)
        call_id = leg.getId()
        self.call_later(seconds + 0.5, lambda: self._hangup_leg(call_id))

    def _hangup_leg(self, call_id: int) -> None:
        self.hangup(call_id)

    def _on_leg_gone(self, event: LegGone) -> None:
        leg = self._legs.pop(event.call_id, None)
        if leg is not None:
            leg.player = None

    # ------------------------------------------- primitives for leg owners
    # The contact center (firmware/core/contact.py) drives calls only
    # through these; each takes and returns pjsua call ids.
    def answer(self, call_id: int) -> None:
        leg = self._legs.get(call_id)
        if leg is not None and leg.isActive():
            op = pj.CallOpParam()
            op.statusCode = 200
            leg.answer(op)

    def ringing(self, call_id: int) -> None:
        """Tell a SIP caller its call rings (180) while the far end is sought."""
        leg = self._legs.get(call_id)
        if isinstance(leg, _Leg) and leg.isActive():
            op = pj.CallOpParam()
            op.statusCode = 180
            try:
                leg.answer(op)
            except pj.Error as exc:
                log.warning("ringing on call %d: %s", call_id, exc.info())

    def play(self, call_id: int, path: Path, *, loop: bool = False,
             on_done: Callable[[], None] | None = None) -> None:
        """Play a WAV to a leg, replacing what it played; ``on_done`` after a one-shot."""
        leg = self._legs.get(call_id)
        if leg is None or leg.audio is None:
            return
        self.stop_play(call_id)
        try:
            with wave.open(str(path), "rb") as w:
                seconds = w.getnframes() / float(w.getframerate())
            player = pj.AudioMediaPlayer()
            player.createPlayer(str(path), 0 if loop else pj.PJMEDIA_FILE_NO_LOOP)
        except (OSError, wave.Error, pj.Error) as exc:
            log.error("prompt %s cannot be played: %s", path, exc)
            seconds, player = 0.0, None
        leg.player = player
        leg.player_token += 1
        if player is not None:
            player.startTransmit(leg.audio)
        if not loop and on_done is not None:
            token = leg.player_token

            def done():
                current = self._legs.get(call_id)
                if current is leg and leg.player_token == token:
                    on_done()
            # A timer, not the player's EOF callback: that runs on pjsua's
            # clock thread, where domain code must not run.
            self.call_later(seconds + 0.1, done)

    def stop_play(self, call_id: int) -> None:
        leg = self._legs.get(call_id)
        if leg is None or leg.player is None:
            return
        try:
            leg.player.stopTransmit(leg.audio)
        except pj.Error:
            pass
        leg.player = None
        leg.player_token += 1

    def dial(self, extension: str, owner, uid: str) -> int:
        """Call a registered phone through Kamailio; raises CapacityError if no slot."""
        return self._call_out(self._account, f"sip:{extension}@127.0.0.1:{self.ports.internal_port}",
                              owner, uid, dialed=extension, app="agent")

    def _call_out(self, account, uri: str, owner, uid: str, *, dialed: str, app: str, line: str = "") -> int:
        """An outgoing SIP leg driven by ``owner``; raises CapacityError if no slot."""
        if not self.admission.admit(self.calls.slot_count()):
            raise CapacityError("all call slots are in use")
        leg = _Leg(self, account)
        leg.owner = owner
        leg.uid = uid
        try:
            leg.makeCall(uri, pj.CallOpParam(True))
        except pj.Error as exc:
            raise CapacityError(f"cannot call {dialed}{' on ' + line if line else ''}: {exc.info()}") from None
        call_id = leg.getId()
        self._legs[call_id] = leg
        self.calls.add(ActiveCall(call_id, Direction.OUTBOUND, "core", dialed, app, self.clock(), line=line))
        return call_id

    def record(self, call_id: int, path: Path) -> bool:
        """Record what this leg's far end sends, into a mono WAV, until it ends."""
        leg = self._legs.get(call_id)
        if leg is None or leg.audio is None or leg.recorder is not None:
            return False
        try:
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(str(path))
        except pj.Error as exc:
            log.error("cannot record to %s: %s", path, exc.info())
            return False
        leg.audio.startTransmit(recorder)
        leg.recorder = recorder
        return True

    def stop_record(self, call_id: int) -> None:
        """Stop recording a leg; dropping the recorder finalises its WAV."""
        leg = self._legs.get(call_id)
        if leg is None or leg.recorder is None:
            return
        try:
            leg.audio.stopTransmit(leg.recorder)
        except pj.Error:
            pass
        leg.recorder = None

    def bridge(self, a: int, b: int) -> bool:
        """Connect two legs' audio both ways (the B2BUA's media join)."""
        leg_a, leg_b = self._legs.get(a), self._legs.get(b)
        if leg_a is None or leg_b is None or leg_a.audio is None or leg_b.audio is None:
            return False
        self.stop_play(a)
        self.stop_play(b)
        leg_a.audio.startTransmit(leg_b.audio)
        leg_b.audio.startTransmit(leg_a.audio)
        for this, other in ((leg_a, leg_b), (leg_b, leg_a)):
            if isinstance(this, PortLeg):
                this.peers.add(other.audio)
        return True

    def hangup(self, call_id: int, status: int = 0) -> None:
        leg = self._legs.get(call_id)
        if leg is None or not leg.isActive():
            return
        if isinstance(leg, PortLeg):
            leg.hangup()
            self.line_ended(call_id, "hung up by the box")
            return
        op = pj.CallOpParam()
        if status:
            op.statusCode = status
        try:
            leg.hangup(op)
        except pj.Error as exc:
            log.warning("hangup of call %d: %s", call_id, exc.info())

    # ------------------------------------------------------------ phone lines
    # A line driver (firmware/lines) runs its own threads; it reaches these
    # only through ``post(OwnerCall(...))``, so they run on the owner thread.
    def attach_line(self, line) -> LinePort:
        """Put a line's audio port on the bridge (once per line, for its life)."""
        port = self._line_ports.get(line.name)
        if port is None:
            port = LinePort(f"line-{line.name}", line.to_pbx, line.from_pbx)
            port.create()
            self._line_ports[line.name] = port
        return port

    def line_incoming(self, line, caller: str, dialed: str) -> int | None:
        """A call arrived on a line: hand it to the route's owner, like an INVITE."""
        owner = self.route_hook(dialed, caller) if self.route_hook else None
        if owner is None:
            log.warning("line %s: call from %s has no route (%r): not answered", line.name, caller, dialed)
            line.hangup()
            return None
        leg = PortLeg(next(self._line_leg_ids), line, self.attach_line(line))
        leg.owner = owner
        call_id = leg.call_id
        self._legs[call_id] = leg
        self.calls.add(ActiveCall(call_id, Direction.INBOUND, caller, dialed, "callcenter", self.clock(),
                                  line=line.name, uses_slot=False))
        self.changed = True
        log.info("line %s: call %s -> %s", line.name, caller, dialed)
        owner.leg_incoming(call_id, caller, dialed, line=line.name)
        return call_id

    def dial_line(self, line, number: str, owner, uid: str = "") -> int:
        """Call a number through a line; ``owner`` hears ``leg_media_ready`` on answer."""
        leg = PortLeg(next(self._line_leg_ids), line, self.attach_line(line))
        leg.owner = owner
        leg.uid = uid
        self._legs[leg.call_id] = leg
        self.calls.add(ActiveCall(leg.call_id, Direction.OUTBOUND, "core", number, "line", self.clock(),
                                  line=line.name, uses_slot=False))
        self.changed = True
        line.dial(number)
        return leg.call_id

    def line_answered(self, call_id: int) -> None:
        """The line is off-hook and talking (we answered, or the far end did)."""
        leg = self._legs.get(call_id)
        if not isinstance(leg, PortLeg) or not leg.active or leg.media_started:
            return
        self.calls.answered(call_id, self.clock())
        self.changed = True
        leg.media_started = True
        leg.audio = leg.port
        if leg.owner is not None:
            leg.owner.leg_media_ready(call_id)

    def line_digit(self, call_id: int, digit: str) -> None:
        leg = self._legs.get(call_id)
        if isinstance(leg, PortLeg) and leg.active and leg.owner is not None:
            leg.owner.leg_digit(call_id, digit)

    def line_ended(self, call_id: int, reason: str) -> None:
        """The line's call is over (either side): undo its bridge connections."""
        leg = self._legs.get(call_id)
        if not isinstance(leg, PortLeg) or not leg.active:
            return
        leg.active = False
        self.changed = True
        self.calls.ended(call_id)
        log.info("line %s: call %d ended (%s)", leg.line.name, call_id, reason)
        self.stop_play(call_id)
        self.stop_record(call_id)
        for peer in leg.peers:
            for src, dst in ((leg.port, peer), (peer, leg.port)):
                try:
                    src.stopTransmit(dst)
                except pj.Error:
                    pass   # the peer's call already took its media away
        leg.peers.clear()
        leg.audio = None
        if self.line_leg_ended is not None:
            self.line_leg_ended(leg.line.name, call_id)
        if leg.owner is not None:
            leg.owner.leg_ended(call_id, _line_end_status(reason, answered=leg.media_started))
        self.post(LegGone(call_id=call_id))

    # ---------------------------------------------------------------- trunks
    def add_trunk(self, config: dict) -> None:
        """Register to a provider (or peer with an FXO gateway) as one line.

        Its calls use their own UDP transport on ``ports.trunk_port``, so a
        provider never reaches the phones' proxy, and the account's digest
        credentials answer the provider's challenges.
        """
        if config["id"] in self._trunks:
            self.remove_trunk(config["id"])
        if self._trunk_transport is None:
            tcfg = pj.TransportConfig()
            tcfg.boundAddress = self.ports.sip_bind if self.ports.sip_bind not in ("", "::") else "0.0.0.0"
            tcfg.port = self.ports.trunk_port
            self._trunk_transport = self._ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        server = config["server"]
        host = server.rsplit(":", 1)[0] if server.count(":") == 1 else server
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{config['username']}@{host}"
        if config.get("register", True):
            acfg.regConfig.registrarUri = f"sip:{server}"
            acfg.regConfig.timeoutSec = config.get("expires", 300)
            acfg.regConfig.retryIntervalSec = 30
        acfg.sipConfig.transportId = self._trunk_transport
        if config.get("password"):
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", config["username"], 0,
                                                            config["password"]))
        acfg.mediaConfig.transportConfig.port = self.ports.rtp_port
        acfg.mediaConfig.transportConfig.portRange = 1000
        if self.ports.sip_bind not in ("0.0.0.0", "::", ""):
            acfg.mediaConfig.transportConfig.boundAddress = self.ports.sip_bind
        allowed = set(config.get("allow_from") or [])
        allowed |= _resolve(host)
        account = _TrunkAccount(self, config, allowed)
        account.create(acfg)
        self._trunks[config["id"]] = account
        if not config.get("register", True) and self.trunk_state_hook:
            self.trunk_state_hook(config["id"], "up", "peer (no registration)")
        log.info("trunk %s: %s as %s (%s)", config["id"], server, config["username"],
                 "registering" if config.get("register", True) else "no registration")

    def _trunk_for_source(self, source: str) -> "_TrunkAccount | None":
        host = source.rsplit(":", 1)[0].strip("[]")
        return next((t for t in self._trunks.values() if host in t.allowed_hosts), None)

    def remove_trunk(self, name: str) -> None:
        account = self._trunks.pop(name, None)
        if account is not None:
            account.shutdown()

    def _on_trunk_registration(self, trunk: "_TrunkAccount", code: int, reason: str, expiration: int) -> None:
        self.changed = True
        up = 200 <= code < 300 and expiration > 0
        detail = "" if up else f"registration {code} {reason}".strip()
        if self.trunk_state_hook and trunk.name in self._trunks:
            self.trunk_state_hook(trunk.name, "up" if up else "down", detail)

    def _route_trunk_call(self, leg: _Leg, prm, trunk: "_TrunkAccount") -> None:
        rdata = prm.rdata
        op = pj.CallOpParam()
        source_host = rdata.srcAddress.rsplit(":", 1)[0]
        if source_host not in trunk.allowed_hosts:
            log.warning("SECURITY: INVITE on trunk %s from %s, not its provider: refused 403",
                        trunk.name, rdata.srcAddress)
            op.statusCode = 403
            leg.hangup(op)
            return
        caller = sipmsg.from_user(rdata.wholeMsg) or "unknown"
        route = trunk.config["route"]
        if not self.admission.admit(self.calls.slot_count()):
            log.warning("trunk %s: call from %s refused 486: all call slots in use", trunk.name, caller)
            op.statusCode = 486
            leg.hangup(op)
            return
        owner = self.route_hook(route, caller) if self.route_hook else None
        if owner is None:
            op.statusCode = 404
            leg.hangup(op)
            return
        leg.owner = owner
        self.calls.add(ActiveCall(prm.callId, Direction.INBOUND, caller, route, "callcenter", self.clock(),
                                  line=trunk.name))
        log.info("trunk %s: call %s -> route %s", trunk.name, caller, route)
        owner.leg_incoming(prm.callId, caller, route, line=trunk.name)

    def dial_trunk(self, name: str, number: str, owner, uid: str = "") -> int:
        """Call a number through a provider's trunk; raises CapacityError if no slot."""
        trunk = self._trunks.get(name)
        if trunk is None:
            raise CapacityError(f"no trunk {name}")
        return self._call_out(trunk, f"sip:{number}@{trunk.config['server']}", owner, uid,
                              dialed=number, app="trunk", line=name)

    # -------------------------------------------------------------- control
    def _on_control(self, req: ControlRequest) -> None:
        try:
            handler = self.commands.get(req.command)
            if handler is None:
                raise ControlError(f"unknown command '{req.command}'")
            req.result = handler(req.args)
        except Exception as exc:
            req.error = exc if isinstance(exc, ControlError) else ControlError(str(exc))
        finally:
            req.done.set()

    def _cmd_status(self, _args) -> dict:
        now = self.clock()
        return {
            "calls": self.calls.snapshot(now),
            "capacity": {
                "engine_limit": self.admission.engine_limit,
                "limit": self.admission.limit,
                "in_use": self.calls.slot_count(),
                "line_calls": len(self.calls) - self.calls.slot_count(),
                "refused": self.admission.refused,
                "refused_by_engine": self.rejected_by_engine,
            },
            "pjsua": self._ep.libVersion().full,
            "uptime": round(now - self.started_at, 1),
        }

    def _cmd_originate(self, args) -> dict:
        extension = str(args.get("extension", ""))
        app = App(args.get("app", "echo"))
        if app not in (App.ECHO, App.PLAYBACK):
            raise ControlError("app must be echo or playback")
        if extension not in self.dialplan.extensions:
            raise ControlError(f"extension {extension!r} does not exist")
        if not self.admission.admit(self.calls.slot_count()):
            raise ControlError("all call slots are in use")
        leg = _Leg(self, self._account)
        leg.app = app
        leg.prompt = self._prompt_path("playback-test") if app is App.PLAYBACK else None
        op = pj.CallOpParam(True)
        leg.makeCall(f"sip:{extension}@127.0.0.1:{self.ports.internal_port}", op)
        call_id = leg.getId()
        self._legs[call_id] = leg
        self.calls.add(ActiveCall(call_id, Direction.OUTBOUND, "core", extension, app.value, self.clock()))
        log.info("calling extension %s (%s)", extension, app.value)
        return {"id": call_id}

    def _cmd_hangup(self, args) -> dict:
        call_id = int(args.get("id", -1))
        if call_id not in self._legs:
            raise ControlError(f"no call {call_id}")
        self._hangup_leg(call_id)
        return {"id": call_id}
