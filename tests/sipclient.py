"""A minimal raw SIP client for tests that must see every header byte.

It is deliberately not a SIP stack: it builds one request, sends it from a
chosen loopback address, and parses the one response. Real SIP software
(SIPp, pjsua2 phones) covers the rest of the protocol.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import socket
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    raw: str

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def parse_response(data: bytes) -> Response:
    text = data.decode("utf-8", errors="replace")
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.split("\r\n")
    _, code, reason = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers.append((key.strip(), value.strip()))
    return Response(int(code), reason, headers, text)


def digest_params(header: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', header)}


def digest_response(user: str, realm: str, password: str, method: str, uri: str,
                    nonce: str, qop: str | None, cnonce: str, nc: str = "00000001") -> str:
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    if qop:
        return hashlib.md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode()).hexdigest()
    return hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()


class RawSipClient:
    def __init__(self, server: tuple[str, int], local_ip: str = "127.0.0.1", timeout: float = 3.0):
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((local_ip, 0))
        self.sock.settimeout(timeout)
        self.local = self.sock.getsockname()
        self._nonce_counts: dict[str, int] = {}
        self.requests_seen: list[str] = []

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, method: str, ruri: str, user: str, *, call_id: str | None = None,
                cseq: int = 1, extra: str = "", body: str = "", to_user: str | None = None) -> str:
        ip, port = self.local
        host = f"{self.server[0]}:{self.server[1]}"
        branch = "z9hG4bK" + secrets.token_hex(8)
        to = to_user or user
        content_type = "Content-Type: application/sdp\r\n" if body else ""
        return (
            f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {ip}:{port};branch={branch};rport\r\n"
            f"Max-Forwards: 70\r\n"
            f"From: <sip:{user}@{host}>;tag=fixedtag\r\n"
            f"To: <sip:{to}@{host}>\r\n"
            f"Call-ID: {call_id or 'callid-fixed'}\r\n"
            f"CSeq: {cseq} {method}\r\n"
            f"Contact: <sip:{user}@{ip}:{port}>\r\n"
            f"{extra}{content_type}"
            f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
        )

    def send(self, message: str | bytes) -> None:
        data = message.encode() if isinstance(message, str) else message
        self.sock.sendto(data, self.server)

    def receive(self, skip_provisional: bool = True) -> Response | None:
        while True:
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            if not data.startswith(b"SIP/2.0 "):
                self.requests_seen.append(data.decode("utf-8", errors="replace"))
                continue  # a request from the far end: not what we wait for
            response = parse_response(data)
            if skip_provisional and response.status < 200:
                continue
            return response

    def exchange(self, message: str) -> Response | None:
        self.send(message)
        return self.receive()

    def in_dialog(self, ok: Response, method: str, cseq: int) -> str:
        """ACK or BYE inside the dialog a 200 OK set up (route set reversed)."""
        contact = ok.header("Contact").strip("<>").split(">")[0]
        routes = ",".join(v for k, v in ok.headers if k.lower() == "record-route").split(",")
        route = "".join(f"Route: {r.strip()}\r\n" for r in reversed(routes) if r.strip())
        ip, port = self.local
        return (f"{method} {contact} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK{method}{secrets.token_hex(6)};rport\r\n"
                f"Max-Forwards: 70\r\n{route}From: {ok.header('From')}\r\nTo: {ok.header('To')}\r\n"
                f"Call-ID: {ok.header('Call-ID')}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n")

    def register(self, user: str, password: str, expires: int = 120) -> Response:
        """REGISTER this socket as ``user`` (challenge, then credentials)."""
        ruri = f"sip:{self.server[0]}:{self.server[1]}"
        call_id = f"reg-{user}-{secrets.token_hex(4)}"
        extra = f"Expires: {expires}\r\n"
        challenge = self.exchange(self.request("REGISTER", ruri, user, call_id=call_id, extra=extra))
        auth = self.authorization(challenge, "REGISTER", ruri, user, password)
        return self.exchange(self.request("REGISTER", ruri, user, call_id=call_id, cseq=2, extra=extra + auth))

    def authorization(self, challenge: Response, method: str, uri: str, user: str, password: str,
                      realm: str | None = None, header: str = "Authorization") -> str:
        params = digest_params(challenge.header("WWW-Authenticate") or challenge.header("Proxy-Authenticate"))
        realm = realm or params["realm"]
        cnonce = secrets.token_hex(4)
        qop = "auth" if "qop" in params else None
        # Like a real phone, count every use of a nonce (the box checks nc).
        count = self._nonce_counts[params["nonce"]] = self._nonce_counts.get(params["nonce"], 0) + 1
        nc = f"{count:08x}"
        resp = digest_response(user, realm, password, method, uri, params["nonce"], qop, cnonce, nc)
        value = (f'Digest username="{user}", realm="{realm}", nonce="{params["nonce"]}", uri="{uri}", '
                 f'response="{resp}", algorithm=MD5')
        if qop:
            value += f', qop=auth, cnonce="{cnonce}", nc={nc}'
        return f"{header}: {value}\r\n"
