"""A SIP phone for tests: a separate pjsua2 process.

It registers through the box's Kamailio with digest auth, places or answers
one call, plays a WAV into it and records what it hears, then reports what
happened as JSON lines on stdout. It shares no code with the firmware:
it is the 'second pjsua2 process' peer, a stand-in for a real desk phone.

Usage: python pjphone.py --user 101 --password PW --proxy 127.0.0.1:5060
       [--call URI | --answer] [--play in.wav] [--record out.wav]
       [--duration S] [--wait S] [--sip-port N] [--rtp-port N]
"""
import argparse
import gc
import json
import sys
import time

import pjsua2 as pj


def emit(**fields):
    # "at" (wall clock) lines events up with the box's log when a test fails.
    print(json.dumps({**fields, "at": round(time.time(), 3)}), flush=True)


class Phone(pj.Account):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.reg_code = None
        self.incoming = None
        self.ringing = []

    def onRegState(self, prm):
        self.reg_code = prm.code
        emit(event="registration", code=prm.code)

    def onIncomingCall(self, prm):
        call = Call(self, prm.callId)
        op = pj.CallOpParam()
        if self.args.ring_only:
            # A phone nobody picks up: ring until the caller gives up.
            self.ringing.append(call)
            op.statusCode = 180
            call.answer(op)
            emit(event="ringing", count=len(self.ringing))
            return
        self.incoming = call
        op.statusCode = 200
        call.answer(op)


class Call(pj.Call):
    def __init__(self, account, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.account = account
        self.state = None
        self.code = None
        self.confirmed_at = None
        self.player = None
        self.recorder = None
        self.media = False

    def onCallState(self, prm):
        info = self.getInfo()
        self.state = info.state
        self.code = info.lastStatusCode
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed_at = time.monotonic()
        emit(event="call", state=info.stateText, code=info.lastStatusCode)

    def onCallMediaState(self, prm):
        info = self.getInfo()
        for i, m in enumerate(info.media):
            if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE and not self.media:
                self.media = True
                audio = self.getAudioMedia(i)
                args = self.account.args
                if args.record:
                    self.recorder = pj.AudioMediaRecorder()
                    self.recorder.createRecorder(args.record)
                    audio.startTransmit(self.recorder)
                if args.play:
                    self.player = pj.AudioMediaPlayer()
                    self.player.createPlayer(args.play, pj.PJMEDIA_FILE_NO_LOOP)
                    self.player.startTransmit(audio)
                emit(event="media", codec=self.getStreamInfo(i).codecName)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--proxy", default="127.0.0.1:5060")
    p.add_argument("--bind", default="127.0.0.1", help="the phone's own loopback address")
    p.add_argument("--sip-port", type=int, default=0)
    p.add_argument("--rtp-port", type=int, default=40000)
    p.add_argument("--no-register", action="store_true")
    p.add_argument("--call")
    p.add_argument("--answer", action="store_true")
    p.add_argument("--play")
    p.add_argument("--record")
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--dtmf", default="", help="digits to send (RFC 2833) after the call is answered; "
                   "groups separated by spaces are sent --dtmf-gap seconds apart")
    p.add_argument("--dtmf-delay", type=float, default=1.0)
    p.add_argument("--dtmf-gap", type=float, default=2.0)
    p.add_argument("--dtmf-method", choices=["rfc2833", "info"], default="rfc2833",
                   help="info: SIP INFO application/dtmf-relay")
    p.add_argument("--ring-only", action="store_true", help="let incoming calls ring, never answer")
    p.add_argument("--wait", type=float, default=15.0)
    args = p.parse_args()

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.ecTailLen = 0
    cfg.medConfig.noVad = True
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.boundAddress = args.bind
    tcfg.port = args.sip_port
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for c in ep.codecEnum2():
        ep.codecSetPriority(c.codecId, {"PCMA/8000/1": 250, "PCMU/8000/1": 240}.get(c.codecId, 0))

    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{args.user}@{args.proxy}"
    if not args.no_register:
        acfg.regConfig.registrarUri = f"sip:{args.proxy}"
        acfg.regConfig.timeoutSec = 300
    acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", args.user, 0, args.password))
    acfg.mediaConfig.transportConfig.port = args.rtp_port
    acfg.mediaConfig.transportConfig.boundAddress = args.bind
    acc = Phone(args)
    acc.create(acfg)

    def pump(seconds, until=lambda: False):
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until():
            ep.libHandleEvents(10)

    ok = True
    if not args.no_register:
        pump(args.wait, lambda: acc.reg_code is not None)
        ok = acc.reg_code == 200
    call = None
    if ok and args.call:
        call = Call(acc)
        call.makeCall(args.call, pj.CallOpParam(True))
    elif ok and args.answer:
        emit(event="ready")
        if args.ring_only:
            pump(args.wait)
            emit(event="rang", count=len(acc.ringing))
            acc.ringing = []
            args.wait = 0
        pump(args.wait, lambda: acc.incoming is not None)
        call = acc.incoming
    if call is not None:
        pump(args.wait, lambda: call.confirmed_at is not None or call.state == pj.PJSIP_INV_STATE_DISCONNECTED)
        if call.confirmed_at is not None:
            delay = args.dtmf_delay
            for group in args.dtmf.split():
                pump(delay, lambda: call.state == pj.PJSIP_INV_STATE_DISCONNECTED)
                if call.state != pj.PJSIP_INV_STATE_DISCONNECTED:
                    if args.dtmf_method == "info":
                        prm = pj.CallSendDtmfParam()
                        prm.method = pj.PJSUA_DTMF_METHOD_SIP_INFO
                        prm.digits = group
                        call.sendDtmf(prm)
                    else:
                        call.dialDtmf(group)
                    emit(event="dtmf", digits=group, method=args.dtmf_method)
                delay = args.dtmf_gap
            pump(args.duration, lambda: call.state == pj.PJSIP_INV_STATE_DISCONNECTED)
            if call.state != pj.PJSIP_INV_STATE_DISCONNECTED:
                call.hangup(pj.CallOpParam())
                pump(3, lambda: call.state == pj.PJSIP_INV_STATE_DISCONNECTED)
    emit(event="done", registered=acc.reg_code, answered=bool(call and call.confirmed_at),
         last_code=call.code if call else None, media=bool(call and call.media))
    if call is not None:
        call.recorder = None
        call.player = None
    call = None
    acc.incoming = None
    if acc.reg_code == 200:
        # Unregister like a real phone switched off: Kamailio forgets us.
        acc.reg_code = None
        acc.setRegistration(False)
        pump(3, lambda: acc.reg_code is not None)
    acc.shutdown()
    del acc
    gc.collect()
    ep.libDestroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
