"""The line's audio port on a real pjsua2 bridge (run in its own process)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from audio import best_correlation, noise_signal, read_wav, write_wav
from firmware.core.ringbuffer import FRAME_BYTES, AudioRing

ROOT = Path(__file__).resolve().parents[2]


def test_ring_pads_underruns_and_bounds_latency_on_overruns():
    ring = AudioRing(max_ms=40)          # 640 bytes
    ring.write(b"\x01\x00" * 100)
    frame = ring.read()
    assert len(frame) == FRAME_BYTES and frame[:200] == b"\x01\x00" * 100 and frame[200:] == b"\x00" * 120
    assert ring.underruns == 1
    ring.write(bytes(range(256)) * 4)     # 1024 bytes into a 640-byte ring
    assert ring.overruns == 1 and ring.level_ms() == 40
    assert ring.read()[:2] == bytes(range(256))[128:130]   # the oldest audio went


def test_audio_crosses_the_bridge_both_ways(tmp_path):
    to_line = noise_signal(2, seed=91)         # a prompt the bridge plays towards the line
    from_line = noise_signal(2, seed=92)       # what the caller on the line says
    play = write_wav(tmp_path / "prompt.wav", to_line)
    raw = tmp_path / "caller.raw"
    raw.write_bytes((np.clip(from_line, -1, 1) * 32767).astype("<i2").tobytes())
    recorded = tmp_path / "bridge_heard.wav"
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "peers" / "lineport_check.py"), str(play),
                          str(recorded), str(raw), "2.6"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["frames_in"] > 100 and report["frames_out"] > 100, report
    line_heard = np.frombuffer((Path(str(recorded) + ".line.raw")).read_bytes(), dtype="<i2") / 32768.0
    assert best_correlation(to_line[: 8000], line_heard, max_lag_s=0.5)[0] > 0.95, "the line did not get the prompt"
    assert best_correlation(from_line[: 8000], read_wav(recorded), max_lag_s=0.5)[0] > 0.95, \
        "the bridge did not get the line's audio"
