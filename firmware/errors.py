"""One hierarchy for every error SmallPBX raises on purpose.

Each class mixes in the builtin it resembles (as gpiozero's ``exc.py``
does), so callers may catch either ours or the builtin.
"""


class SmallPbxError(Exception):
    """Base of every SmallPBX error."""


class ConfigError(SmallPbxError, ValueError):
    """A configuration value was refused.

    :param field: the dotted path of the offending field, e.g.
        ``extensions.101.number``; shown to the user so they know what to fix.
    :param message: what is wrong with it.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StoreBusyError(SmallPbxError, TimeoutError):
    """Another writer held the config store for too long."""


class ControlError(SmallPbxError, ConnectionError):
    """The core's control socket could not be reached or refused a request."""


class CapacityError(SmallPbxError, RuntimeError):
    """No call slot is left in the media engine."""
