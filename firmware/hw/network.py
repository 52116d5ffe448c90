"""The box's own LAN address, for the display's setup page.

Read from the kernel with ``ip -j -4 addr`` (fixed arguments, no shell, no
packet sent anywhere).
"""
from __future__ import annotations

import json
import shutil
import subprocess


def box_address() -> str:
    """The first non-loopback IPv4 address, or "" when there is none."""
    ip = shutil.which("ip")
    if not ip:
        return ""
    try:
        out = subprocess.run([ip, "-j", "-4", "addr", "show", "up"], capture_output=True, text=True,
                             timeout=5, check=True).stdout
        interfaces = json.loads(out)
    except (subprocess.SubprocessError, OSError, ValueError):
        return ""
    for iface in interfaces:
        if "LOOPBACK" in iface.get("flags", []):
            continue
        for addr in iface.get("addr_info", []):
            if addr.get("family") == "inet" and addr.get("local"):
                return addr["local"]
    return ""
