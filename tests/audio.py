"""Audio checks for tests: make test signals and find them in recordings."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 8000


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    data = np.clip(samples, -1.0, 1.0)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((data * 32767).astype("<i2").tobytes())
    return Path(path)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, "expected 16-bit PCM"
        frames = w.readframes(w.getnframes())
        channels = w.getnchannels()
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples


def noise_signal(seconds: float, seed: int, level: float = 0.3) -> np.ndarray:
    """Speech-band noise bursts: unique per seed, so correlation can tell sources apart."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = rng.standard_normal(n)
    # Band-limit to ~300-3400 Hz with a crude FFT mask (what G.711 carries).
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    x = np.fft.irfft(spectrum, n)
    # 250 ms on / 250 ms off envelope gives a sharp correlation peak.
    envelope = (np.arange(n) // (RATE // 4)) % 2 == 0
    x = x * envelope
    return level * x / (np.max(np.abs(x)) + 1e-12)


def best_correlation(reference: np.ndarray, recorded: np.ndarray, max_lag_s: float = 1.5) -> tuple[float, float]:
    """Normalised cross-correlation peak of ``reference`` inside ``recorded``.

    Returns ``(peak, lag_seconds)``; the peak is 1.0 for an exact delayed copy
    and near 0 for unrelated audio.
    """
    if len(recorded) == 0 or len(reference) == 0:
        return 0.0, 0.0
    max_lag = int(max_lag_s * RATE)
    best, best_lag = 0.0, 0
    ref = reference
    for lag in range(0, min(max_lag, len(recorded))):
        seg = recorded[lag:lag + len(ref)]
        r = ref[:len(seg)]
        if len(seg) < RATE // 2:
            break
        denom = np.sqrt(np.dot(r, r) * np.dot(seg, seg))
        if denom == 0:
            continue
        c = float(np.dot(r, seg) / denom)
        if c > best:
            best, best_lag = c, lag
    return best, best_lag / RATE


def window_matches(reference: np.ndarray, recorded: np.ndarray, start_s: float, end_s: float,
                   window_s: float = 0.5, max_lag_s: float = 0.6) -> list[float]:
    """Correlation peak of each window of ``reference`` found in ``recorded``.

    Each window may sit at its own delay (a jitter buffer adapts during a
    call), searched from its own position up to ``max_lag_s`` later.
    """
    peaks = []
    size = int(window_s * RATE)
    t = int(start_s * RATE)
    while t + size <= min(int(end_s * RATE), len(reference)):
        ref = reference[t:t + size]
        segment = recorded[t:t + size + int(max_lag_s * RATE)]
        peaks.append(best_correlation(ref, segment, max_lag_s=max_lag_s)[0] if len(segment) >= size else 0.0)
        t += size
    return peaks


def heard(reference: np.ndarray, recorded: np.ndarray, *, skip_s: float = 0.0) -> tuple[bool, list[float]]:
    """Did ``recorded`` carry ``reference``? Judged half-second by half-second.

    True when the median window matches (> 0.85) and at least 80 % of the
    windows do (> 0.7): robust to one jitter-buffer delay change, while
    silence, one-way audio or the wrong source score near 0.
    """
    end = len(reference) / RATE - 0.5
    peaks = window_matches(reference, recorded, start_s=skip_s, end_s=end)
    if not peaks:
        return False, peaks
    good = sum(p > 0.7 for p in peaks) / len(peaks)
    return bool(sorted(peaks)[len(peaks) // 2] > 0.85 and good >= 0.8), peaks


def found_anywhere(signal: np.ndarray, recorded: np.ndarray, start_s: float, seconds: int = 2,
                   max_lag_s: float = 9.0) -> float:
    """Best correlation of any 1 s piece of ``signal[start_s:start_s+seconds]`` in ``recorded``.

    One-second pieces each find their own delay, so a jitter-buffer delay
    change in the middle of the call cannot hide audio that is there.
    """
    peaks = []
    for k in range(seconds):
        a = int((start_s + k) * RATE)
        peaks.append(best_correlation(signal[a:a + RATE], recorded, max_lag_s=max_lag_s)[0])
    return max(peaks)
