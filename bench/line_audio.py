"""The GSM line's audio path: added latency and CPU of one bridged line call.

The emulated SIM7600 (firmware/sim, in a child process so its own pacing
thread is not counted) streams 20 ms PCM frames over a pty, as the real
module does over USB. This process is the box's side, built from the
firmware's own parts: GsmModem answers the call (ATA + AT+CPCMREG=1),
SerialPcmPump moves the frames, and LinePort puts them on a real pjsua2
conference bridge, where the port is connected to itself. So audio the
caller sends travels modem -> pump -> ring -> bridge -> ring -> pump ->
modem, both directions of the path once.

Printed:
- round-trip latency of that loop (clicks sent by the emulator, found in
  what it captured), median and p99 over the clicks, and half of it as
  the one-way figure;
- CPU % of one core for this process during the call, against the same
  process idle (pjsua running, no call): the difference is one line call.

Bounded: about 25 s; loopback ptys only.
    .venv/bin/python bench/line_audio.py
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLICKS = 20
CLICK_EVERY_S = 0.5
MEASURE_S = 10.0


def emulator_child() -> None:
    """The modem's side: obeys one command per stdin line."""
    from firmware.sim.modem_emulator import ModemEmulator
    modem = ModemEmulator("sim7600", pcm=True)
    modem.start()
    print(json.dumps({"at": modem.path, "pcm": modem.pcm_path}), flush=True)
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "ring":
            modem.incoming_call("13800138000")
        elif cmd == "play":
            modem.play_caller_audio(Path(arg).read_bytes())
        elif cmd == "mark":
            print(len(modem.captured_audio), flush=True)
            continue
        elif cmd == "dump":
            Path(arg).write_bytes(bytes(modem.captured_audio))
        elif cmd == "quit":
            break
        print("ok", flush=True)
    modem.close()


def clicks() -> bytes:
    """A 2 ms full-scale pulse every CLICK_EVERY_S, silence between."""
    import array
    samples = array.array("h", [0] * int(CLICKS * CLICK_EVERY_S * 8000))
    for i in range(CLICKS):
        start = int(i * CLICK_EVERY_S * 8000)
        for j in range(16):
            samples[start + j] = 20000
    return samples.tobytes()


def find_delays(sent: bytes, got: bytes) -> list[float]:
    import numpy as np
    a = np.frombuffer(sent, dtype="<i2").astype(float)
    b = np.frombuffer(got[: len(got) - len(got) % 2], dtype="<i2").astype(float)
    period = int(CLICK_EVERY_S * 8000)
    delays = []
    for i in range(CLICKS):
        start = i * period
        window = b[start:start + period]
        if len(window) < period or window.max() < 5000:
            continue
        delays.append(float(np.argmax(window > 5000)) / 8000.0 - float(np.argmax(a[start:start + period] > 5000)) / 8000.0)
    return delays


def cpu_percent(seconds: float, spin) -> float:
    t0, c0 = time.monotonic(), time.process_time()
    while time.monotonic() - t0 < seconds:
        spin()
    return 100.0 * (time.process_time() - c0) / (time.monotonic() - t0)


def main() -> None:
    import pjsua2 as pj
    from firmware.core.lineport import LinePort
    from firmware.core.ringbuffer import AudioRing
    from firmware.hw.modem.gsm import GsmModem, IncomingCall
    from firmware.lines.pcm_pump import SerialPcmPump

    child = subprocess.Popen([sys.executable, __file__, "--emulator"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)

    def ask(cmd: str) -> str:
        child.stdin.write(cmd + "\n")
        child.stdin.flush()
        return child.stdout.readline().strip()

    paths = json.loads(child.stdout.readline())
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 0
    cfg.logConfig.consoleLevel = 0
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.channelCount = 1
    ep.libInit(cfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    spin = lambda: ep.libHandleEvents(10)  # noqa: E731

    from firmware.lines.face import LINE_RING_MAX_MS, LINE_RING_TARGET_MS
    target = float(sys.argv[sys.argv.index("--target-ms") + 1]) if "--target-ms" in sys.argv else LINE_RING_TARGET_MS
    to_pbx = AudioRing(LINE_RING_MAX_MS, target_ms=target)
    from_pbx = AudioRing(LINE_RING_MAX_MS, target_ms=target)
    port = LinePort("bench-line", to_pbx, from_pbx)
    port.create()
    rang = threading.Event()
    modem = GsmModem(paths["at"], vendor="sim7600",
                     on_event=lambda e: rang.set() if isinstance(e, IncomingCall) else None)
    modem.start()
    pump = SerialPcmPump(paths["pcm"], to_pbx, from_pbx)
    pump.start()

    idle = cpu_percent(MEASURE_S, spin)

    ask("ring")
    rang.wait(10)
    to_pbx.clear()                      # what GsmLine does before it answers
    from_pbx.clear()
    modem.answer()                      # ATA, then AT+CPCMREG=1: the stream starts
    port.startTransmit(port)            # the bridge sends the line's audio back to it
    for _ in range(100):                # let the rings settle
        spin()
    with tempfile.TemporaryDirectory() as tmp:
        sent = clicks()
        (Path(tmp) / "clicks.raw").write_bytes(sent)
        mark = int(ask("mark"))
        ask(f"play {tmp}/clicks.raw")
        busy = cpu_percent(MEASURE_S, spin)
        ask(f"dump {tmp}/got.raw")
        got = (Path(tmp) / "got.raw").read_bytes()[mark:]
    delays = find_delays(sent, got)
    modem.hang_up()
    port.stopTransmit(port)
    pump.close()
    modem.close()
    ask("quit")
    child.wait(10)
    port = None
    ep.libDestroy()

    print(f"line audio path (SIM7600 PCM port emulated on a pty, 20 ms frames, real pjsua2 bridge, "
          f"ring target {target:.0f} ms)")
    if delays:
        ms = sorted(d * 1000 for d in delays)
        p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
        print(f"  round trip modem->bridge->modem: median {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms "
              f"({len(ms)} of {CLICKS} clicks found)")
        print(f"  one way (half the round trip): median {statistics.median(ms) / 2:.1f} ms")
    else:
        print("  no click came back: the path is broken")
    print(f"  CPU of this process: idle {idle:.2f} % of one core, in a call {busy:.2f} %, "
          f"one bridged line call {busy - idle:.2f} %")
    print(f"  ring underruns {to_pbx.underruns}/{from_pbx.underruns}, overruns {to_pbx.overruns}/{from_pbx.overruns}, "
          f"drift corrections {to_pbx.corrections}/{from_pbx.corrections}, "
          f"targets now {to_pbx.current_target_ms():.0f}/{from_pbx.current_target_ms():.0f} ms")


if __name__ == "__main__":
    if "--emulator" in sys.argv:
        emulator_child()
    else:
        main()
