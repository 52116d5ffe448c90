"""What the system page shows: the box's address, time, storage, the core
and Kamailio, and the end of the logs.

Read-only. Logs come from a file when ``LOG_FILE`` is configured (the
tests, a box that logs to a file), else from the journal of the box's
units when ``journalctl`` exists (``LOG_JOURNAL_UNITS``), else the page
says they are not available. ``journalctl`` gets a fixed argument list.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from firmware.hw.network import box_address
from firmware.hw.platform import detect_platform
from web.box import Box
from web.dashboard import live

LOG_LINES = 200
TAIL_BYTES = 256 * 1024
JOURNAL_UNITS = ("smallpbx-core", "smallpbx-kamailio", "smallpbx-web")


def directory_size(root: Path) -> tuple[int, int]:
    """Bytes and number of files below ``root`` (0, 0 when it does not exist)."""
    total = count = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
                count += 1
            except OSError:
                continue
    return total, count


def storage(box: Box) -> dict:
    used, files = directory_size(box.paths.data / "recordings")
    voicemail, _n = directory_size(box.paths.data / "voicemail")
    disk = shutil.disk_usage(box.paths.data)
    return {"recordings_bytes": used, "recordings_files": files, "voicemail_bytes": voicemail,
            "disk_total_bytes": disk.total, "disk_free_bytes": disk.free}


def tail(path: Path, lines: int = LOG_LINES) -> list[str]:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - TAIL_BYTES))
        data = fh.read()
    text = data.decode("utf-8", errors="replace").splitlines()
    if size > TAIL_BYTES and text:
        text = text[1:]                     # the first line was cut
    return text[-lines:]


def logs(config: dict) -> dict:
    """``{"source", "lines"}``; ``lines`` None when no log can be read (``error`` says why)."""
    log_file = config.get("LOG_FILE")
    if log_file:
        try:
            return {"source": str(log_file), "lines": tail(Path(log_file))}
        except OSError as exc:
            return {"source": str(log_file), "lines": None, "error": exc.strerror or str(exc)}
    journalctl = shutil.which("journalctl")
    if not journalctl:
        return {"source": None, "lines": None, "error": "journalctl is not available"}
    args = [journalctl, "--no-pager", "-o", "short-iso", "-n", str(LOG_LINES)]
    for unit in config.get("LOG_JOURNAL_UNITS") or JOURNAL_UNITS:
        args += ["-u", unit]
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError) as exc:
        return {"source": "journal", "lines": None, "error": str(exc)}
    if result.returncode != 0:
        return {"source": "journal", "lines": None, "error": result.stderr.strip()[:200]}
    return {"source": "journal", "lines": result.stdout.splitlines()[-LOG_LINES:]}


def collect(box: Box, config: dict, *, with_logs: bool = True) -> dict:
    status, core = live.core_status(box)
    now = box.state.now()
    platform = detect_platform()
    out = {
        "addresses": [a for a in [box_address()] if a],
        "platform": {"model": platform.model, "simulated": platform.simulated},
        "time": {"now": now.isoformat(timespec="seconds"), "timezone": box.state.timezone_name(),
                 "utc_offset": now.strftime("%z")},
        "storage": storage(box),
        "core": core,
        "lines": [{"name": l.get("name"), "state": l.get("state")} for l in (status or {}).get("lines", [])],
    }
    if with_logs:
        out["logs"] = logs(config)
    return out
