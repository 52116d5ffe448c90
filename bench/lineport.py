"""CPU cost of one line's audio port on the pjsua2 bridge, at 20 ms frames.

Runs a pjsua2 process for --seconds twice: idle, and with a LinePort
carrying audio both ways (a player into it, it into a recorder, its rings
fed and drained as a line driver would). Prints the difference in CPU time
as a share of one core, and the frames per second each way. The latency
the rings add is their fill level; the end-to-end figure waits for the
modem bridge (issue 4).
Usage: .venv/bin/python bench/lineport.py [--seconds 10]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = r'''
import gc, json, resource, sys, time
import pjsua2 as pj
from firmware.core.lineport import LinePort
from firmware.core.ringbuffer import AudioRing, FRAME_BYTES
seconds, with_port, wav, out = float(sys.argv[1]), sys.argv[2] == "1", sys.argv[3], sys.argv[4]
ep = pj.Endpoint(); ep.libCreate(); cfg = pj.EpConfig()
cfg.uaConfig.threadCnt = 0; cfg.uaConfig.mainThreadOnly = True
cfg.logConfig.level = 1; cfg.logConfig.consoleLevel = 1
cfg.medConfig.clockRate = 8000; cfg.medConfig.sndClockRate = 8000
ep.libInit(cfg); ep.libStart(); ep.audDevManager().setNullDev()
objs = []
if with_port:
    to_pbx, from_pbx = AudioRing(), AudioRing()
    port = LinePort("gsm1", to_pbx, from_pbx); port.create()
    player = pj.AudioMediaPlayer(); player.createPlayer(wav, 0)
    recorder = pj.AudioMediaRecorder(); recorder.createRecorder(out)
    player.startTransmit(port); port.startTransmit(recorder)
    objs = [port, player, recorder]
start_cpu = resource.getrusage(resource.RUSAGE_SELF); t0 = time.monotonic()
next_feed = t0
while time.monotonic() - t0 < seconds:
    ep.libHandleEvents(5)
    if with_port and time.monotonic() >= next_feed:   # the line driver's side
        to_pbx.write(b"\x10\x00" * (FRAME_BYTES // 2)); from_pbx.read(); next_feed += 0.02
end_cpu = resource.getrusage(resource.RUSAGE_SELF)
cpu = (end_cpu.ru_utime - start_cpu.ru_utime) + (end_cpu.ru_stime - start_cpu.ru_stime)
frames = (objs[0].frames_in, objs[0].frames_out) if objs else (0, 0)
print(json.dumps({"cpu_s": cpu, "wall_s": time.monotonic() - t0, "frames_in": frames[0], "frames_out": frames[1]}))
objs = []; port = player = recorder = None; gc.collect(); ep.libDestroy()
'''


def run(seconds: float, with_port: bool, wav: Path, out: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", WORKER, str(seconds), "1" if with_port else "0", str(wav),
                             str(out)], capture_output=True, text=True, timeout=seconds + 60, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from audio import noise_signal, write_wav
    with tempfile.TemporaryDirectory() as tmp:
        wav = write_wav(Path(tmp) / "in.wav", noise_signal(5, seed=1))
        idle = run(args.seconds, False, wav, Path(tmp) / "idle.wav")
        busy = run(args.seconds, True, wav, Path(tmp) / "busy.wav")
    share = (busy["cpu_s"] / busy["wall_s"] - idle["cpu_s"] / idle["wall_s"]) * 100
    print(f"lineport_cpu_percent_of_one_core {share:.2f} (idle {100 * idle['cpu_s'] / idle['wall_s']:.2f}%, "
          f"with port {100 * busy['cpu_s'] / busy['wall_s']:.2f}%)")
    print(f"lineport_frames_per_s in={busy['frames_in'] / busy['wall_s']:.1f} out={busy['frames_out'] / busy['wall_s']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
