"""Calls the box places for the owner: record a prompt by phone, test a line.

- **Record a prompt by phone** (FreePBX's "System Recordings" by phone):
  the box rings an extension; on answer it plays a beep and records what
  the owner says until ``#``, hang-up or ``MAX_RECORDING_S``; the recording
  becomes the custom prompt (``DATA/prompts/custom/<lang>/<name>.wav``),
  e.g. the shop's greeting.
- **Test call through a line**: the box calls a number (the owner's
  mobile) through a line and plays the playback-test prompt, then hangs
  up: proof that the line can call out and carries the box's voice.

Each job has an id and a state (``calling``, ``recording``, ``playing``,
``saved``, ``done``, ``failed: why``) the web page polls. Runs on the core's
owner thread as a leg owner (like the contact center); the conversion of
the recording (sox) runs on a short-lived thread.
"""
from __future__ import annotations

import itertools
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from firmware.core.prompts import PROMPT_NAME, VOICES, install_custom_prompt
from firmware.errors import CapacityError, ControlError, SmallPbxError
from firmware.records.recordings import repair_wav

log = logging.getLogger(__name__)

MAX_RECORDING_S = 120
MAX_JOBS_KEPT = 20


@dataclass
class _Job:
    id: str
    kind: str                   # "record-prompt" | "test-call"
    target: str                 # extension or number
    state: str = "calling"
    leg: int | None = None
    name: str = ""
    language: str = ""
    line: str = ""
    started: float = field(default_factory=time.time)
    recording: Path | None = None

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "target": self.target, "state": self.state,
                "name": self.name, "language": self.language, "line": self.line}


class ServiceCalls:
    """
    :param engine: the SipEngine (dial, dial_line, play, record, hangup, call_later).
    :param prompts_dir: the box's prompts folder.
    :param prompt_path: prompt name -> WAV path in the box's language.
    :param lines: the LineBank (``place_call`` through a line).
    :param work_dir: where a prompt is recorded before it is installed;
        emptied here, since a crash may have left a half recording in it.
    """

    def __init__(self, engine, prompts_dir: Path, prompt_path: Callable[[str], Path], lines, work_dir: Path):
        self.engine = engine
        self.prompts_dir = Path(prompts_dir)
        self.prompt_path = prompt_path
        self.lines = lines
        self.jobs: dict[str, _Job] = {}
        self._by_leg: dict[int, _Job] = {}
        self._ids = itertools.count(1)
        self._work_dir = Path(work_dir)
        shutil.rmtree(self._work_dir, ignore_errors=True)

    # -- commands (owner thread) ---------------------------------------------------------
    def record_prompt(self, extension: str, name: str, language: str) -> dict:
        if not PROMPT_NAME.match(name or ""):
            raise ControlError("the prompt name must be letters, digits, '-' or '_'")
        if language not in VOICES:
            raise ControlError(f"the language must be one of {', '.join(VOICES)}")
        if extension not in self.engine.dialplan.extensions:
            raise ControlError(f"extension {extension!r} does not exist")
        job = self._new("record-prompt", extension, name=name, language=language)
        try:
            job.leg = self.engine.dial(extension, self, job.id)
        except CapacityError as exc:
            return self._fail(job, str(exc))
        self._by_leg[job.leg] = job
        self.engine.call_later(60.0, lambda: self._no_answer(job))
        return job.as_dict()

    def test_call(self, line_name: str, number: str) -> dict:
        if not number or not number.lstrip("+").isdigit() or len(number) > 32:
            raise ControlError(f"not a phone number: {number!r}")
        job = self._new("test-call", number, line=line_name)
        try:
            job.leg = self.lines.place_call(line_name, number, self, job.id)
        except CapacityError as exc:
            return self._fail(job, str(exc))
        self._by_leg[job.leg] = job
        return job.as_dict()

    def status(self, job_id: str) -> dict:
        job = self.jobs.get(job_id)
        if job is None:
            raise ControlError(f"no such job {job_id!r}")
        return job.as_dict()

    def _new(self, kind: str, target: str, **kw) -> _Job:
        job = _Job(f"{kind}-{next(self._ids)}", kind, target, **kw)
        self.jobs[job.id] = job
        for old in list(self.jobs)[:-MAX_JOBS_KEPT]:
            del self.jobs[old]
        return job

    def _fail(self, job: _Job, why: str) -> dict:
        job.state = f"failed: {why}"
        log.warning("%s to %s failed: %s", job.kind, job.target, why)
        return job.as_dict()

    def _no_answer(self, job: _Job) -> None:
        if job.state == "calling" and job.leg is not None:
            self.engine.hangup(job.leg)

    # -- leg owner callbacks (engine, owner thread) -----------------------------------------
    def leg_media_ready(self, leg: int) -> None:
        job = self._by_leg.get(leg)
        if job is None:
            return
        if job.kind == "record-prompt":
            job.state = "recording"
            self.engine.play(leg, self.prompt_path("beep"), on_done=lambda: self._start_recording(job))
        else:
            job.state = "playing"
            self.engine.play(leg, self.prompt_path("playback-test"), on_done=lambda: self._finish_test(job))

    def _start_recording(self, job: _Job) -> None:
        self._work_dir.mkdir(parents=True, exist_ok=True)
        job.recording = self._work_dir / f"{job.id}.wav"
        if not self.engine.record(job.leg, job.recording):
            self._fail(job, "the recording could not start")
            self.engine.hangup(job.leg)
            return
        leg = job.leg
        self.engine.call_later(MAX_RECORDING_S, lambda: self.engine.hangup(leg) if job.state == "recording" else None)

    def _finish_test(self, job: _Job) -> None:
        job.state = "done"
        self.engine.hangup(job.leg)

    def leg_digit(self, leg: int, digit: str) -> None:
        job = self._by_leg.get(leg)
        if job is not None and job.kind == "record-prompt" and digit == "#" and job.recording is not None:
            self.engine.hangup(leg)            # the end of the recording, like voicemail's '#'

    def leg_ended(self, leg: int, status: int) -> None:
        job = self._by_leg.pop(leg, None)
        if job is None:
            return
        self.engine.stop_record(leg)          # closes the WAV
        if job.kind == "test-call":
            if job.state == "calling":
                self._fail(job, f"not answered ({status})")
            elif job.state == "playing":
                job.state = "done"
            return
        if job.recording is None or not job.recording.exists():
            if not job.state.startswith("failed"):
                self._fail(job, "not answered" if job.state == "calling" else "hung up before the beep")
            return
        job.state = "saving"
        threading.Thread(target=self._save, args=(job,), name="prompt-save", daemon=True).start()

    def _save(self, job: _Job) -> None:
        try:
            # pjsua may not have rewritten the WAV header's sizes yet (as
            # voicemail knows): take the length from the data written.
            repair_wav(job.recording)
            install_custom_prompt(self.prompts_dir, job.name, job.language, job.recording)
            job.state = "saved"
            log.info("prompt %s (%s) recorded by phone from %s", job.name, job.language, job.target)
        except SmallPbxError as exc:
            job.state = f"failed: {exc}"
        finally:
            job.recording.unlink(missing_ok=True)
