"""Default voice prompts, spoken by espeak-ng in English and Chinese.

Made once into ``DATA/prompts/<lang>/<name>.wav`` as 8 kHz mono 16-bit
WAV (what the 8 kHz bridge plays without resampling). The texts are fixed
here; no user input reaches the commands. Where espeak-ng or sox is
missing a short tone pattern is written instead, so the box still works.
"""
from __future__ import annotations

import logging
import math
import shutil
import struct
import subprocess
import tempfile
import wave
from pathlib import Path

from firmware.fsutil import atomic_write_bytes

log = logging.getLogger(__name__)

PROMPTS = {
    "playback-test": {
        "en": "This is the SmallPBX playback test. If you can hear this, audio from the box reaches your phone.",
        "zh_CN": "这是 SmallPBX 放音测试。如果您能听到这段话，说明话机可以收到交换机的声音。",
    },
}
VOICES = {"en": "en-us", "zh_CN": "cmn"}
RATE = 8000


def ensure_default_prompts(prompts_dir: Path) -> list[Path]:
    """Create missing default prompts; return the files it made."""
    made = []
    for name, texts in PROMPTS.items():
        for lang, text in texts.items():
            path = Path(prompts_dir) / lang / f"{name}.wav"
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, _speak(text, VOICES[lang]) or _tones())
            made.append(path)
    if made:
        log.info("made %d default prompts in %s", len(made), prompts_dir)
    return made


def _speak(text: str, voice: str) -> bytes | None:
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if not espeak or not sox:
        log.warning("espeak-ng or sox missing: prompts will be tones")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        try:
            subprocess.run([espeak, "-v", voice, "-s", "150", "-w", str(raw), text],
                           check=True, capture_output=True, timeout=60)
            subprocess.run([sox, str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out)],
                           check=True, capture_output=True, timeout=60)
        except (subprocess.SubprocessError, OSError) as exc:
            log.warning("could not speak a prompt (%s): using tones", exc)
            return None
        return out.read_bytes()


def _tones() -> bytes:
    """Three rising beeps: a prompt that is clearly a placeholder."""
    samples = []
    for freq in (440, 660, 880):
        samples += [int(8000 * math.sin(2 * math.pi * freq * n / RATE)) for n in range(RATE // 3)]
        samples += [0] * (RATE // 6)
    with tempfile.TemporaryFile() as buf:
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
        buf.seek(0)
        return buf.read()
