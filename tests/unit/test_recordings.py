import os
import struct
import time
import wave

import numpy as np

from firmware.records.recordings import Recordings, merge_stereo, repair_wav


def write_mono(path, samples):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def crash_like(path, samples):
    """A WAV whose writer died: header sizes still zero, data present."""
    write_mono(path, samples)
    with open(path, "r+b") as f:
        f.seek(4)
        f.write(struct.pack("<I", 0))
        f.seek(40)
        f.write(struct.pack("<I", 0))
        f.seek(0, os.SEEK_END)
        f.write(b"\x01")  # half a sample, as a kill mid-write leaves


def read(path):
    with wave.open(str(path)) as w:
        return w.getnchannels(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def test_repair_restores_sizes_from_the_file_length(tmp_path):
    part = tmp_path / "x.wav"
    crash_like(part, range(100))
    try:  # unreadable, or read as empty, before the repair
        with wave.open(str(part)) as w:
            assert w.getnframes() == 0
    except (wave.Error, EOFError):
        pass
    repair_wav(part)
    channels, data = read(part)
    assert channels == 1 and list(data) == list(range(100))


def test_merge_puts_caller_left_and_agent_right(tmp_path):
    left, right = tmp_path / "c.wav", tmp_path / "a.wav"
    write_mono(left, [1, 2, 3, 4])
    write_mono(right, [10, 20])
    merge_stereo(left, right, tmp_path / "out.wav")
    channels, data = read(tmp_path / "out.wav")
    assert channels == 2 and list(data) == [1, 10, 2, 20, 3, 0, 4, 0]
    assert not left.exists() and not right.exists()


def test_recover_makes_crashed_parts_a_readable_stereo_file(tmp_path):
    rec = Recordings(tmp_path)
    caller, agent, name = rec.parts_for("1700000000-7", time.time())
    crash_like(caller, [5] * 800)
    crash_like(agent, [7] * 400)
    made = rec.recover()
    assert [p.relative_to(tmp_path).as_posix() for p in made] == [name]
    channels, data = read(tmp_path / name)
    assert channels == 2 and len(data) == 1600
    assert set(data[0::2]) == {5} and list(data[1::2][:400]) == [7] * 400
    assert rec.recover() == []


def test_sweep_deletes_oldest_first_by_age_and_budget(tmp_path):
    rec = Recordings(tmp_path)
    now = time.time()
    paths = []
    for i, age_days in enumerate((100, 10, 5, 1)):
        _, _, name = rec.parts_for(f"c{i}", now - age_days * 86400)
        path = tmp_path / name
        write_mono(path, [0] * 4000)  # 8 kB each
        os.utime(path, (now - age_days * 86400, now - age_days * 86400))
        paths.append(path)
    removed = rec.sweep(now, keep_days=90, max_bytes=10**9)
    assert removed == [paths[0]]
    size = paths[1].stat().st_size
    removed = rec.sweep(now, keep_days=90, max_bytes=2 * size)
    assert removed == [paths[1]] and paths[2].exists() and paths[3].exists()
