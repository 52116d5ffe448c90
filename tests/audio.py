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


def pcm_samples(data: bytes) -> np.ndarray:
    """S16LE bytes as captured off a line (a trailing half sample dropped) as floats."""
    data = bytes(data)
    return np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2").astype(np.float64) / 32768.0


def level(samples: np.ndarray) -> float:
    """RMS of ``samples`` (0.0 for none)."""
    return float(np.sqrt(np.mean(samples ** 2))) if len(samples) else 0.0


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
    and near 0 for unrelated audio. Lags run from 0 to ``max_lag_s``; near
    the end of ``recorded`` a shorter overlap counts if it is at least half
    a second long. Computed by FFT, so searching whole recordings is cheap.
    """
    n = len(reference)
    max_lag = min(int(max_lag_s * RATE), len(recorded))
    if max_lag == 0 or n == 0:
        return 0.0, 0.0
    ref = np.asarray(reference, dtype=np.float64)
    rec = np.zeros(max_lag + n)
    part = recorded[:max_lag + n]
    rec[:len(part)] = part
    size = 1 << (len(rec) + n).bit_length()
    products = np.fft.irfft(np.fft.rfft(rec, size) * np.conj(np.fft.rfft(ref, size)), size)[:max_lag]
    lags = np.arange(max_lag)
    overlap = np.minimum(n, len(recorded) - lags)
    rec_energy = np.concatenate(([0.0], np.cumsum(rec ** 2)))
    ref_energy = np.concatenate(([0.0], np.cumsum(ref ** 2)))
    denom = np.sqrt((rec_energy[lags + overlap] - rec_energy[lags]) * ref_energy[overlap])
    usable = (overlap >= min(n, RATE // 2)) & (denom > 1e-9)
    if not usable.any():
        return 0.0, 0.0
    peaks = np.where(usable, products / np.where(usable, denom, 1.0), -np.inf)
    lag = int(np.argmax(peaks))
    return max(0.0, float(peaks[lag])), lag / RATE


def window_matches(reference: np.ndarray, recorded: np.ndarray, start_s: float, end_s: float,
                   window_s: float = 0.5, max_lag_s: float = 0.6, lead_s: float = 0.3) -> list[float]:
    """Correlation peak of each window of ``reference`` found in ``recorded``.

    Each window may sit at its own delay (a jitter buffer adapts during a
    call), searched from ``lead_s`` before its own position (a recording
    that started a moment after the far end began to play runs ahead) up
    to ``max_lag_s`` after it.
    """
    peaks = []
    size = int(window_s * RATE)
    t = int(start_s * RATE)
    while t + size <= min(int(end_s * RATE), len(reference)):
        ref = reference[t:t + size]
        first = max(0, t - int(lead_s * RATE))
        segment = recorded[first:t + size + int(max_lag_s * RATE)]
        reach = (t - first) / RATE + max_lag_s
        peaks.append(best_correlation(ref, segment, max_lag_s=reach)[0] if len(segment) >= size else 0.0)
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


def found_anywhere(signal: np.ndarray, recorded: np.ndarray, start_s: float, seconds: int | None = None,
                   max_lag_s: float = 9.0) -> float:
    """Best correlation of any 1 s piece of ``signal`` from ``start_s`` in ``recorded``.

    ``seconds`` limits the pieces tried (all whole seconds to the end by
    default). One-second pieces each find their own delay, so a jitter-buffer
    delay change in the middle of the call, or a bridge made a moment after
    the far end began to talk, cannot hide audio that is there; silence,
    one-way audio or the wrong source still score near 0 in every piece.
    """
    count = int((len(signal) / RATE - start_s)) if seconds is None else seconds
    peaks = [0.0]
    for k in range(count):
        a = int((start_s + k) * RATE)
        peaks.append(best_correlation(signal[a:a + RATE], recorded, max_lag_s=max_lag_s)[0])
    return max(peaks)
