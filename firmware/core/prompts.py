"""Default voice prompts, spoken by espeak-ng in English and Chinese.

Made once into ``DATA/prompts/<lang>/<name>.wav`` as 8 kHz mono 16-bit
WAV (what the 8 kHz bridge plays without resampling). The texts are fixed
here; no user input reaches the commands. Where espeak-ng or sox is
missing a short tone pattern is written instead, so the box still works.
"""
from __future__ import annotations

import logging
import math
import re
import shutil
import struct
import subprocess
import tempfile
import wave
from pathlib import Path

from firmware.errors import ConfigError
from firmware.fsutil import atomic_write_bytes

log = logging.getLogger(__name__)

PROMPTS = {
    "playback-test": {
        "en": "This is the SmallPBX playback test. If you can hear this, audio from the box reaches your phone.",
        "zh_CN": "这是 SmallPBX 放音测试。如果您能听到这段话，说明话机可以收到交换机的声音。",
    },
    "welcome": {
        "en": "Welcome. For sales, press 1. To speak to someone, press 0.",
        "zh_CN": "您好，欢迎致电。销售请按1，人工服务请按0。",
    },
    "invalid-entry": {"en": "Sorry, that is not a valid choice.", "zh_CN": "对不起，您的输入无效。"},
    "no-entry": {"en": "Sorry, I did not hear a choice.", "zh_CN": "对不起，没有收到您的选择。"},
    "not-available": {
        "en": "Sorry, nobody can take your call right now. Please call again later.",
        "zh_CN": "对不起，现在无人接听，请稍后再拨。",
    },
    "please-hold": {"en": "Please hold, you will be connected shortly.", "zh_CN": "请稍候，马上为您接通。"},
    "agent-logged-in": {"en": "You are logged in.", "zh_CN": "您已签入。"},
    "agent-logged-out": {"en": "You are logged out.", "zh_CN": "您已签出。"},
    "agent-paused": {"en": "You are paused.", "zh_CN": "您已暂停接听。"},
    "agent-unpaused": {"en": "You are available again.", "zh_CN": "您已恢复接听。"},
    "night-mode-on": {"en": "Night mode is on.", "zh_CN": "夜间模式已开启。"},
    "night-mode-off": {"en": "Night mode is off.", "zh_CN": "夜间模式已关闭。"},
    "closed": {
        "en": "Thank you for calling. We are closed now. Please call again during business hours.",
        "zh_CN": "感谢您的来电。现在是非营业时间，请在营业时间内再拨。",
    },
}
for _n in range(1, 10):
    PROMPTS[f"position-{_n}"] = {
        "en": f"You are number {_n} in the queue. Please hold.",
        "zh_CN": f"您前面还有{_n - 1}位客户，请稍候。" if _n > 1 else "您是下一位，请稍候。",
    }
MAX_SPOKEN_POSITION = 9
MAX_SPOKEN_MINUTES = 10
for _n in range(1, MAX_SPOKEN_MINUTES + 1):
    PROMPTS[f"wait-minutes-{_n}"] = {
        "en": f"Your expected waiting time is about {_n} minute{'s' if _n > 1 else ''}.",
        "zh_CN": f"预计等待时间大约{_n}分钟。",
    }
PROMPTS.update({
    "vm-leave-message": {"en": "Please leave a message after the tone. Press hash when you are done.",
                         "zh_CN": "请在提示音后留言，结束请按井号键。"},
    "vm-saved": {"en": "Your message has been saved. Goodbye.", "zh_CN": "您的留言已保存，再见。"},
    "vm-enter-pin": {"en": "Please enter your PIN, then press hash.", "zh_CN": "请输入密码，然后按井号键。"},
    "vm-wrong-pin": {"en": "That PIN is not correct.", "zh_CN": "密码不正确。"},
    "vm-options": {"en": "Press 5 to hear it again, 6 for the next message, 7 to delete it.",
                   "zh_CN": "重听请按5，下一条请按6，删除请按7。"},
    "vm-deleted": {"en": "Message deleted.", "zh_CN": "留言已删除。"},
    "vm-no-more": {"en": "No more messages. Goodbye.", "zh_CN": "没有更多留言，再见。"},
})
for _n in range(0, 10):
    PROMPTS[f"vm-count-{_n}"] = {
        "en": f"You have {_n} message{'s' if _n != 1 else ''}." if _n < 9 else "You have 9 or more messages.",
        "zh_CN": f"您有{_n}条留言。" if _n < 9 else "您有9条以上留言。",
    }
# Made by code, in every language directory: a calm two-tone pattern.
MUSIC = ("hold-music", "beep")
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
    for name in MUSIC:
        for lang in VOICES:
            path = Path(prompts_dir) / lang / f"{name}.wav"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(path, _music() if name == "hold-music" else _beep())
                made.append(path)
    if made:
        log.info("made %d default prompts in %s", len(made), prompts_dir)
    return made


PROMPT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def install_custom_prompt(prompts_dir: Path, name: str, language: str, source: Path) -> Path:
    """Convert an uploaded WAV/MP3 to 8 kHz mono and use it instead of the default.

    The name and language are checked against fixed patterns and sox gets an
    argument list (no shell), so nothing the owner types reaches a shell.
    """
    if not PROMPT_NAME.match(name):
        raise ConfigError("prompt.name", "must be letters, digits, '-' or '_'")
    if language not in VOICES:
        raise ConfigError("prompt.language", f"must be one of {', '.join(VOICES)}")
    source = Path(source)
    if not source.is_file() or source.stat().st_size > MAX_UPLOAD_BYTES:
        raise ConfigError("prompt.file", "must be an audio file of at most 20 MB")
    if source.suffix.lower() not in (".wav", ".mp3"):
        raise ConfigError("prompt.file", "must be a .wav or .mp3 file")
    sox = shutil.which("sox")
    if not sox:
        raise ConfigError("prompt.file", "sox is not installed, so audio cannot be converted")
    target = Path(prompts_dir) / "custom" / language / f"{name}.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        result = subprocess.run([sox, "--", str(source), "-r", str(RATE), "-c", "1", "-b", "16", str(out)],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0 or not out.exists():
            raise ConfigError("prompt.file", f"could not be read as audio: {result.stderr.strip()[:200]}")
        with wave.open(str(out)) as w:
            if w.getnframes() < RATE // 10:
                raise ConfigError("prompt.file", "is shorter than 0.1 s")
        atomic_write_bytes(target, out.read_bytes())
    return target


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
    return _wav(samples)


def _music() -> bytes:
    """Eight seconds of soft chords (C, F, G, C), looped while callers wait."""
    samples = []
    for chord in ((262, 330, 392), (349, 440, 523), (392, 494, 587), (262, 330, 392)):
        for n in range(2 * RATE):
            fade = min(1.0, n / 800, (2 * RATE - n) / 800)
            value = sum(math.sin(2 * math.pi * f * n / RATE) for f in chord) / 3
            samples.append(int(3000 * fade * value))
    return _wav(samples)


def _beep() -> bytes:
    """The tone before a voicemail message: 1 kHz, 0.4 s."""
    return _wav([int(8000 * math.sin(2 * math.pi * 1000 * n / RATE)) for n in range(int(0.4 * RATE))])


def _wav(samples: list[int]) -> bytes:
    with tempfile.TemporaryFile() as buf:
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
        buf.seek(0)
        return buf.read()
