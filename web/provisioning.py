"""The block a phone or softphone takes: SIP server, user, password.

Shown once, right after an extension is made or its password reset (only
digests are stored). The QR code (segno, inline SVG: nothing leaves the box)
holds the same text block, so a phone camera can copy each value; the
text is easy to type into any softphone's account form.
"""
from __future__ import annotations

import segno


def sip_account(number: str, password: str, *, server: str, port: int, realm: str, name: str = "") -> dict:
    host = server if port == 5060 else f"{server}:{port}"
    lines = [
        f"SIP server: {host}",
        f"User: {number}",
        f"Auth user: {number}",
        f"Password: {password}",
        f"Domain/realm: {realm}",
        "Transport: UDP",
    ]
    text = "\n".join(lines)
    return {
        "number": number,
        "name": name,
        "password": password,
        "server": server,
        "port": port,
        "realm": realm,
        "uri": f"sip:{number}@{host}",
        "text": text,
        "qr_svg": qr_svg(text),
    }


def qr_svg(text: str) -> str:
    """An inline ``<svg>`` of ``text`` (no XML declaration, safe to embed)."""
    return segno.make(text, error="m", micro=False).svg_inline(scale=4, dark="#111", light="#fff",
                                                               title="SIP account")
