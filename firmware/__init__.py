"""SmallPBX firmware: the phone system of a small shop on a Raspberry Pi."""

__version__ = "0.1.0"
