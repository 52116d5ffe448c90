"""Which board are we on? Decides real or simulated hardware backends."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MODEL_FILE = Path("/proc/device-tree/model")


@dataclass(frozen=True)
class Platform:
    model: str
    simulated: bool


def detect_platform(model_file: Path = MODEL_FILE, env=os.environ) -> Platform:
    """A Raspberry Pi by its device-tree model; anything else is simulated.

    ``SMALLPBX_HARDWARE=simulated`` forces simulation on a Pi (bench work).
    """
    try:
        model = model_file.read_text(errors="replace").strip("\x00\n ")
    except OSError:
        model = ""
    real = model.startswith("Raspberry Pi") and env.get("SMALLPBX_HARDWARE") != "simulated"
    return Platform(model=model or "unknown (not a Raspberry Pi)", simulated=not real)
