"""Kamailio as configured by SmallPBX: the phones' registrar and SIP edge.

Owns: rendering ``kamailio.cfg`` from the box's settings, writing the
credential table (HA1 hashes only) that Kamailio reads, starting the
Kamailio process with its own runtime directory, and asking it for live
registrations over its JSON-RPC datagram socket.

Must not touch: the system's /etc/kamailio, pjsua2, the config store's
file (it receives plain values from the caller).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from firmware.errors import SmallPbxError
from firmware.fsutil import atomic_write_text

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).with_name("kamailio.cfg.tmpl")

# fail2ban's asterisk jail: 10 failures in 10 minutes.
AUTHFAIL_LIMIT = 10
AUTHFAIL_WINDOW_S = 600
BAN_SECONDS = 600


class ProxyError(SmallPbxError):
    """Kamailio could not be configured, started or asked."""


def ha1(user: str, realm: str, password: str) -> str:
    """The digest HA1 of RFC 2617: md5(user:realm:password)."""
    return hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()


def ha1b(user: str, realm: str, password: str) -> str:
    """The HA1 variant for phones that send ``user@realm`` as username."""
    return hashlib.md5(f"{user}@{realm}:{realm}:{password}".encode()).hexdigest()


@dataclass(frozen=True)
class ProxySettings:
    """What Kamailio needs to know about the box.

    :param sip_bind: address the phones reach (loopback in simulation).
    :param sip_port: SIP port for the phones (UDP and TCP).
    :param internal_port: Kamailio's loopback port for the core's leg.
    :param core_port: the pbx core's loopback SIP port.
    :param realm: the digest realm phones authenticate in.
    :param run_dir: Kamailio's own runtime directory (cfg, pid, rpc socket).
    """

    sip_bind: str
    sip_port: int
    internal_port: int
    core_port: int
    realm: str
    run_dir: Path
    flood_limit: int = 16
    core_call_rate: int = 10
    children: int = 2

    @property
    def db_dir(self) -> Path:
        return self.run_dir / "db"

    @property
    def cfg_path(self) -> Path:
        return self.run_dir / "kamailio.cfg"

    @property
    def rpc_socket(self) -> Path:
        return self.run_dir / "kamailio_rpc.sock"


def render_config(settings: ProxySettings, auth_secret: str) -> str:
    """Fill the cfg template; every placeholder must be known."""
    values = {
        "SIP_BIND": settings.sip_bind,
        "SIP_PORT": str(settings.sip_port),
        "INTERNAL_PORT": str(settings.internal_port),
        "CORE_PORT": str(settings.core_port),
        "REALM": settings.realm,
        "RUN_DIR": str(settings.run_dir),
        "DB_DIR": str(settings.db_dir),
        "AUTH_SECRET": auth_secret,
        "CHILDREN": str(settings.children),
        "AUTHFAIL_LIMIT": str(AUTHFAIL_LIMIT),
        "AUTHFAIL_WINDOW": str(AUTHFAIL_WINDOW_S),
        "BAN_SECONDS": str(BAN_SECONDS),
        "FLOOD_LIMIT": str(settings.flood_limit),
        "CORE_CALL_RATE": str(settings.core_call_rate),
    }
    text = TEMPLATE.read_text()
    for key, value in values.items():
        if '"' in value or "\n" in value:
            raise ProxyError(f"unsafe value for {key}: {value!r}")
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        raise ProxyError("kamailio.cfg.tmpl has an unknown placeholder")
    return text


def write_credentials(db_dir: Path, extensions: list[dict]) -> None:
    """Write the db_text ``subscriber`` table: one row per extension.

    Written atomically, so Kamailio (which re-reads it on every auth) never
    sees half a file. Values are validated digits/hex by the config schema,
    so none can break the ``:``-separated format.
    """
    db_dir.mkdir(parents=True, exist_ok=True)
    rows = ["id(int,auto) username(string) domain(string,null) ha1(string,null) ha1b(string,null)"]
    for index, ext in enumerate(sorted(extensions, key=lambda e: e["number"]), start=1):
        rows.append(f"{index}:{ext['number']}::{ext['ha1']}:{ext['ha1b']}")
    _replace_table(db_dir / "subscriber", "\n".join(rows) + "\n")
    _replace_table(db_dir / "version", "table_name(string) table_version(int)\nsubscriber:7\n")


def _replace_table(path: Path, text: str) -> None:
    """Replace a db_text table so that every Kamailio process notices.

    db_text re-reads a table when its mtime (whole seconds) changes; two
    writes within one second would leave the second unseen. So unchanged
    tables are left alone and a changed one always gets a new mtime.
    """
    try:
        if path.read_text() == text:
            return
        old_mtime = int(path.stat().st_mtime)
    except FileNotFoundError:
        old_mtime = 0
    atomic_write_text(path, text)
    mtime = max(int(time.time()), old_mtime + 1)
    os.utime(path, (mtime, mtime))


def prepare(settings: ProxySettings, extensions: list[dict]) -> Path:
    """Write cfg and credentials into the runtime dir; return the cfg path."""
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.run_dir, 0o700)
    # A fresh nonce secret each start: old nonces die with the old process.
    cfg = render_config(settings, secrets.token_hex(16))
    atomic_write_text(settings.cfg_path, cfg, mode=0o600)
    write_credentials(settings.db_dir, extensions)
    return settings.cfg_path


def kamailio_binary() -> str:
    path = shutil.which("kamailio") or ("/usr/sbin/kamailio" if os.path.exists("/usr/sbin/kamailio") else None)
    if not path:
        raise ProxyError("kamailio is not installed (Debian package 'kamailio')")
    return path


def check_config(settings: ProxySettings) -> None:
    """Run ``kamailio -c`` on the generated cfg; raise with its output."""
    result = subprocess.run(
        [kamailio_binary(), "-c", "-f", str(settings.cfg_path)],
        capture_output=True, text=True, timeout=30,
    )
    if result.returncode != 0:
        raise ProxyError(f"generated kamailio.cfg is invalid:\n{result.stderr[-2000:]}")


def command(settings: ProxySettings) -> list[str]:
    """The argv that runs Kamailio in the foreground, logging to stderr."""
    return [
        kamailio_binary(), "-DD", "-E",
        "-f", str(settings.cfg_path),
        "-P", str(settings.run_dir / "kamailio.pid"),
        "-Y", str(settings.run_dir),
        "-w", str(settings.run_dir),
        "-m", "32", "-M", "4",
    ]


class RpcClient:
    """JSON-RPC over Kamailio's Unix datagram socket (jsonrpcs module)."""

    def __init__(self, socket_path: Path, *, timeout: float = 2.0):
        self.socket_path = Path(socket_path)
        self.timeout = timeout

    def call(self, method: str, *params):
        with tempfile.TemporaryDirectory(prefix="smallpbx-rpc-") as tmp:
            reply_path = os.path.join(tmp, "reply.sock")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.bind(reply_path)
                sock.settimeout(self.timeout)
                request = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}
                sock.sendto(json.dumps(request).encode(), str(self.socket_path))
                chunks = []
                while True:
                    data = sock.recv(65536)
                    chunks.append(data)
                    try:
                        reply = json.loads(b"".join(chunks))
                        break
                    except ValueError:
                        continue
            except OSError as exc:
                raise ProxyError(f"kamailio rpc {method} failed: {exc}") from exc
            finally:
                sock.close()
        if "error" in reply:
            raise ProxyError(f"kamailio rpc {method}: {reply['error']}")
        return reply.get("result")

    def registrations(self) -> list[dict]:
        """Registered contacts as ``[{"user", "contact", "expires", "user_agent"}]``."""
        result = self.call("ul.dump")
        found = []
        for domain in (result or {}).get("Domains", []):
            for entry in domain.get("Domain", {}).get("AoRs", []) or []:
                info = entry.get("Info", {})
                for contact in info.get("Contacts", []) or []:
                    c = contact.get("Contact", {})
                    found.append({
                        "user": info.get("AoR"),
                        "contact": c.get("Address"),
                        "expires": c.get("Expires"),
                        "user_agent": c.get("User-Agent"),
                        "received": c.get("Received"),
                    })
        return found
