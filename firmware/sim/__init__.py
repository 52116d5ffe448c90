"""Simulated hardware: the far side of the cables, for tests and demos.

Nothing here is imported by the running box; the composition root never
constructs these. They stand where the real parts would be, so the real
drivers run unchanged against them (``serial.Serial(emulator.path)``).
"""
from firmware.sim.modem_emulator import EmulatorError, ModemEmulator

__all__ = ["EmulatorError", "ModemEmulator"]
