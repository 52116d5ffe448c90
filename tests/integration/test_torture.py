"""RFC 4475 torture messages: nothing crashes, nothing gets through.

Every message goes to Kamailio (UDP; the large ones over TCP too) and
straight to the core's port, each from its own loopback address so the
flood ban does not hide later messages. Afterwards the box must still
register a phone and carry a call with audio.
"""
import socket

from audio import heard, noise_signal, read_wav, write_wav
from torture import VALID, aim, messages


def _send_udp(src: str, port: int, message: bytes) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.settimeout(0.25)
        s.sendto(aim(message, "127.0.0.1", port, *s.getsockname()), ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def _send_tcp(src: str, port: int, message: bytes) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((src, 0))
        s.settimeout(1.0)
        s.connect(("127.0.0.1", port))
        s.sendall(aim(message, "127.0.0.1", port, *s.getsockname()).replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP", 1))
        try:
            return s.recv(65535)
        except (socket.timeout, ConnectionError):
            return None


def test_torture_messages_do_not_break_the_box(box, tmp_path):
    torture = messages()
    assert len(torture) == 50
    answered_ok = []
    for i, (name, message) in enumerate(torture.items()):
        reply = _send_udp(f"127.0.5.{i + 1}", box.sip_port, message)
        if reply and reply.startswith(b"SIP/2.0 2"):
            answered_ok.append(name)
        if len(message) > 1300 or name in ("longreq", "mpart01"):
            _send_tcp(f"127.0.7.{i + 1}", box.sip_port, message)
        _send_udp(f"127.0.6.{i + 1}", box.core_port, message)
    # Nothing carries valid credentials, so the proxy accepts nothing.
    assert answered_ok == [], answered_ok
    assert box.proc.poll() is None, "the box died"
    status = box.status()
    assert status["calls"] == []
    assert "unreachable" not in status["proxy"]

    sent = write_wav(tmp_path / "sent.wav", noise_signal(5, seed=3))
    heard_path = tmp_path / "heard.wav"
    result = box.phone("101", "--call", f"sip:*43@{box.proxy}", "--play", str(sent),
                       "--record", str(heard_path), "--duration", "5.5")
    assert result.last("done")["answered"], result.events
    assert heard(read_wav(sent), read_wav(heard_path))[0]
    assert set(VALID) <= set(torture)
