"""Runs a LinePort on a real pjsua2 bridge (a process of its own) and reports.

A player sends a WAV into the port (what the line would hear) and the port
sends a known signal out to a recorder (what the line says). Prints JSON:
what reached the line's ring, and the recorder file path.
Usage: python lineport_check.py IN.wav OUT.wav SIGNAL.raw SECONDS
"""
import gc
import json
import sys
import time

import pjsua2 as pj

from firmware.core.lineport import LinePort
from firmware.core.ringbuffer import AudioRing

play_wav, record_wav, signal_raw, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
ep = pj.Endpoint()
ep.libCreate()
cfg = pj.EpConfig()
cfg.uaConfig.threadCnt = 0
cfg.uaConfig.mainThreadOnly = True
cfg.logConfig.level = 1
cfg.logConfig.consoleLevel = 1
cfg.medConfig.clockRate = 8000
cfg.medConfig.sndClockRate = 8000
ep.libInit(cfg)
ep.libStart()
ep.audDevManager().setNullDev()

to_pbx, from_pbx = AudioRing(max_ms=4000), AudioRing(max_ms=4000)
signal = open(signal_raw, "rb").read()
to_pbx.write(signal)
port = LinePort("gsm1", to_pbx, from_pbx)
port.create()
player = pj.AudioMediaPlayer()
player.createPlayer(play_wav, pj.PJMEDIA_FILE_NO_LOOP)
recorder = pj.AudioMediaRecorder()
recorder.createRecorder(record_wav)
player.startTransmit(port)
port.startTransmit(recorder)
end = time.monotonic() + seconds
while time.monotonic() < end:
    ep.libHandleEvents(10)
heard = bytearray()
while from_pbx.level_ms() > 0:
    heard += from_pbx.read()
open(record_wav + ".line.raw", "wb").write(bytes(heard))
print(json.dumps({"frames_in": port.frames_in, "frames_out": port.frames_out,
                  "underruns": to_pbx.underruns}), flush=True)
player = recorder = None
port = None
gc.collect()
ep.libDestroy()
