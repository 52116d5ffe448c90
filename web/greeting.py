"""The shop's greeting: an uploaded recording, text spoken by espeak-ng, or
recorded by phone.

The first two end in :func:`firmware.core.prompts.install_custom_prompt` (sox to
8 kHz mono, into ``DATA/prompts/custom/<lang>/greeting.wav``). Nothing the
owner types reaches a shell: the text goes to espeak-ng in a file
(``-f``), never on a command line, and every program gets an argument
list. The upload is saved under a fixed temporary name; only its
extension (.wav/.mp3) is taken from the browser.

By phone, the core records it (``record-prompt``, :mod:`web.servicecalls`)
into the box's language only; :func:`install_recorded` then installs that
recording for the other languages, the way an upload is installed.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from firmware.core.prompts import VOICES, install_custom_prompt
from firmware.errors import ConfigError
from web.i18n import N_

log = logging.getLogger(__name__)
PROMPT = "greeting"
MAX_TEXT = 300


def clean_text(text: str) -> str:
    text = " ".join((text or "").split())            # newlines and tabs become spaces
    if not text:
        raise ConfigError("text", N_("must not be empty"))
    if len(text) > MAX_TEXT:
        raise ConfigError("text", N_("must be at most 300 characters"))
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ConfigError("text", N_("must not contain control characters"))
    return text


def languages_for(box_language: str) -> list[str]:
    """The greeting is the shop's one greeting: it plays whatever the box language."""
    return [box_language] + [lang for lang in VOICES if lang != box_language]


def install_spoken(prompts_dir: Path, text: str, box_language: str) -> Path:
    text = clean_text(text)
    espeak = shutil.which("espeak-ng")
    if not espeak:
        raise ConfigError("text", N_("text-to-speech (espeak-ng) is not installed on this box"))
    with tempfile.TemporaryDirectory() as tmp:
        source, raw = Path(tmp) / "text.txt", Path(tmp) / "spoken.wav"
        source.write_text(text, encoding="utf-8")
        result = subprocess.run([espeak, "-v", VOICES[box_language], "-s", "150", "-f", str(source),
                                 "-w", str(raw)], capture_output=True, text=True, timeout=60)
        if result.returncode != 0 or not raw.exists():
            raise ConfigError("text", N_("could not be spoken"))
        return _install_everywhere(prompts_dir, raw, box_language)


def install_upload(prompts_dir: Path, storage, box_language: str) -> Path:
    """``storage``: werkzeug ``FileStorage`` of a .wav or .mp3 file."""
    name = (storage.filename or "").lower()
    suffix = Path(name).suffix
    if suffix not in (".wav", ".mp3"):
        raise ConfigError("prompt.file", N_("must be a .wav or .mp3 file"))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / f"upload{suffix}"
        storage.save(str(source))
        return _install_everywhere(prompts_dir, source, box_language)


def _install_everywhere(prompts_dir: Path, source: Path, box_language: str) -> Path:
    try:
        paths = [install_custom_prompt(prompts_dir, PROMPT, lang, source) for lang in languages_for(box_language)]
    except ConfigError as exc:
        # The page shows a short translated message (web/i18n.py); sox's own words go to the log.
        log.warning("greeting not installed: %s: %s", exc.field, exc.message)
        raise
    return paths[0]


def install_recorded(prompts_dir: Path, box_language: str) -> Path:
    """The greeting recorded by phone in the box's language, installed for the other languages too."""
    recorded = installed(prompts_dir, box_language)
    if recorded is None:
        raise ConfigError("mode", N_("Nothing is recorded yet: let the box call you, speak after the beep, "
                                     "then press #."))
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "recorded.wav"           # a copy: a new recording may replace the file meanwhile
        shutil.copyfile(recorded, source)
        try:
            for lang in languages_for(box_language)[1:]:
                install_custom_prompt(prompts_dir, PROMPT, lang, source)
        except ConfigError as exc:
            log.warning("greeting not installed: %s: %s", exc.field, exc.message)
            raise
    return recorded


def installed(prompts_dir: Path, box_language: str) -> Path | None:
    path = Path(prompts_dir) / "custom" / box_language / f"{PROMPT}.wav"
    return path if path.exists() else None
