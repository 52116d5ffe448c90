"""RFC 4475 torture messages from ../shared/sip-torture, aimed at the box."""
from __future__ import annotations

import re
from pathlib import Path

TORTURE_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "sip-torture"

VALID = "wsinv intmeth esc01 escnull esc02 lwsdisp longreq dblreq semiuri transports mpart01 unreason noreason".split()
INVALID = ("badinv01 clerr scalar02 scalarlg quotbal ltgtruri lwsruri lwsstart trws escruri baddate "
           "regbadct badaspec baddn badvers mismatch01 mismatch02 bigcode").split()


def torture_dir() -> Path:
    # The work tree sits in main/ beside shared/; CI clones it the same way.
    for candidate in (TORTURE_DIR, Path(__file__).resolve().parents[2] / "shared" / "sip-torture"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("shared/sip-torture not found beside the work tree")


def messages() -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted(torture_dir().glob("*.dat"))}


def aim(message: bytes, host: str, port: int, via_host: str, via_port: int) -> bytes:
    """Point a torture message's Request-URI and top Via at the box and us."""
    head, sep, body = message.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    first = lines[0]
    target = f"{host}:{port}".encode()
    if not first.startswith(b"SIP/"):
        # Request line: replace the host part of the Request-URI.
        parts = first.split(b" ")
        if len(parts) >= 3:
            uri = parts[1]
            if b"@" in uri:
                uri = re.sub(rb"@[^;>?\s]+", b"@" + target, uri, count=1)
            else:
                uri = re.sub(rb"^(sips?:)[^;>?\s]+", rb"\g<1>" + target, uri, count=1)
            parts[1] = uri
            lines[0] = b" ".join(parts)
    for i, line in enumerate(lines[1:], start=1):
        if re.match(rb"(?i)^(via|v)\s*:", line):
            lines[i] = re.sub(rb"(SIP\s*/\s*2\.0\s*/\s*\w+\s+)[^;\s,]+",
                              rb"\g<1>" + f"{via_host}:{via_port}".encode(), line, count=1)
            break
    return b"\r\n".join(lines) + sep + body
