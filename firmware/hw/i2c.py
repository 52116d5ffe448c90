"""The I2C bus backend: which object speaks SMBus to the front-panel parts.

Owns the choice between the real bus (``smbus2.SMBus`` on ``/dev/i2c-N``)
and the fake one (:class:`firmware.hw.fakes_i2c.FakeSMBus`), the way
gpiozero's ``GPIOZERO_PIN_FACTORY`` picks a pin factory. Drivers above it
(luma.oled, RPLCD) get an object with the ``smbus2.SMBus`` interface and
never know which one it is.

Wiring: the Pi's I2C-1 is SDA = GPIO2 (pin 3), SCL = GPIO3 (pin 5), with
1.8 kOhm pull-ups to 3.3 V already on the board. Parts on it must run their
I2C lines at 3.3 V (a 5 V LCD backpack needs its own pull-ups removed or a
level shifter). Enable it with ``dtparam=i2c_arm=on`` in
``/boot/firmware/config.txt``; the firmware's user must be in group ``i2c``.

Must not touch: device protocols (those belong to ``firmware.hw.display``
and the libraries it drives), GPIO pins, and ``firmware.errors`` (the bus
error class lives here until a shared hardware error exists there).
This is the only module in ``firmware/`` that imports ``smbus2``, and it
does so lazily, inside :func:`open_bus`.
"""
from __future__ import annotations

import errno
import logging
import os
from collections.abc import Mapping

from firmware.errors import ConfigError, SmallPbxError
from firmware.hw.platform import detect_platform

log = logging.getLogger(__name__)

#: Environment variable that picks the backend, like ``GPIOZERO_PIN_FACTORY``.
ENV_VAR = "SMALLPBX_I2C"
#: The backends :func:`open_bus` knows.
BACKENDS = ("smbus2", "fake")


class BusError(SmallPbxError, OSError):
    """The I2C bus could not be opened (missing, disabled, or no permission).

    :param message: what went wrong, with a hint at the fix.
    :param port: the bus number, e.g. ``1`` for ``/dev/i2c-1``.
    :param errno: the ``errno`` of the underlying :class:`OSError`, if any.
    """

    def __init__(self, message: str, *, port: int | None = None, errno: int | None = None):
        super().__init__(message)
        self.port = port
        self.errno = errno


def choose_backend(backend: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    """Name the backend to use: the argument, else ``$SMALLPBX_I2C``, else
    ``"fake"`` on simulated hardware and ``"smbus2"`` on a Raspberry Pi.

    :param backend: an explicit choice, one of :data:`BACKENDS`.
    :param env: the environment to read :data:`ENV_VAR` from.
    :raises ConfigError: the argument or the variable names no backend.
    """
    if backend is not None:
        field = "backend"
    elif env.get(ENV_VAR):
        backend, field = env[ENV_VAR], ENV_VAR
    else:
        return "fake" if detect_platform().simulated else "smbus2"
    if backend not in BACKENDS:
        raise ConfigError(field, f"unknown I2C backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return backend


def open_bus(port: int = 1, *, backend: str | None = None):
    """Open I2C bus ``port`` and return an object with the ``smbus2.SMBus``
    interface; the caller closes it.

    :param port: the bus number (``1`` is GPIO2/GPIO3 on every Pi since the B+).
    :param backend: ``"smbus2"`` or ``"fake"``; see :func:`choose_backend`.
    :raises BusError: the real bus is missing or not accessible.
    :raises ConfigError: the backend name is unknown.
    """
    name = choose_backend(backend)
    log.debug("opening I2C bus %d with backend %s", port, name)
    if name == "fake":
        from firmware.hw.fakes_i2c import FakeSMBus

        return FakeSMBus(port)
    try:
        import smbus2
    except ImportError as e:
        raise BusError(f"I2C bus {port}: smbus2 is not installed ({e})", port=port) from e
    try:
        return smbus2.SMBus(port)
    except OSError as e:
        if e.errno == errno.ENOENT:
            hint = "no such device; enable I2C with dtparam=i2c_arm=on"
        elif e.errno in (errno.EACCES, errno.EPERM):
            hint = "permission denied; add the firmware's user to group i2c"
        else:
            hint = e.strerror or str(e)
        raise BusError(f"I2C bus {port} (/dev/i2c-{port}): {hint}", port=port, errno=e.errno) from e
