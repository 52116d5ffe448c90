"""Hardware: device classes over swappable backends (gpiozero's pattern).

The line drivers, LEDs, buttons and display arrive with later issues; for
now this package only tells whether the box runs on a Raspberry Pi or with
simulated hardware.
"""
from firmware.hw.platform import detect_platform

__all__ = ["detect_platform"]
