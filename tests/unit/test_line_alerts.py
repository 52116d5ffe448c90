"""When the owner is told a line is down or back, and by which way."""
import socket
import threading
import time

from firmware.lines.alerts import Alerter


class Outbox:
    """A working line as the alerter sees it: a name and send_sms."""

    def __init__(self, name="gsm2"):
        self.name = name
        self.texts = []

    def send_sms(self, number, text, ref=None):
        self.texts.append((number, text))


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


def _alerter(clock, **settings):
    base = {"alert_sms_to": "13800138000", "alert_email_to": "", "smtp_server": "", "smtp_from": "",
            "language": "en", "alert_hold_s": 300}
    return Alerter(lambda: {**base, **settings}, clock=clock)


def test_down_then_up_sends_two_texts_through_another_line():
    clock, out = Clock(), Outbox()
    a = _alerter(clock)
    a.line_state("gsm1", "up", "", [out])                 # first start: not news
    assert out.texts == []
    a.line_state("gsm1", "unresponsive", "no answer to AT", [out])
    a.line_state("gsm1", "down", "port gone", [out])      # still down: told once
    clock.now += 60
    a.line_state("gsm1", "up", "", [out])
    assert [t[0] for t in out.texts] == ["13800138000"] * 2
    assert "gsm1 is DOWN (unresponsive: no answer to AT)" in out.texts[0][1]
    assert "working again" in out.texts[1][1]


def test_a_flapping_line_does_not_flood_the_owner():
    clock, out = Clock(), Outbox()
    a = _alerter(clock)
    a.line_state("gsm1", "up", "", [out])
    for _ in range(5):
        a.line_state("gsm1", "down", "", [out])
        clock.now += 10
        a.line_state("gsm1", "up", "", [out])
        clock.now += 10
    assert len(out.texts) == 2                            # one down, one back
    a.line_state("gsm1", "down", "", [out])               # down again, within the hold time
    a.tick(lambda line: [out])
    assert len(out.texts) == 2
    clock.now += 300
    a.tick(lambda line: [out])                            # still down when the hold is over: told
    assert len(out.texts) == 3 and "DOWN" in out.texts[-1][1]


def test_chinese_owner_gets_chinese_text_and_no_line_means_logged_only():
    clock, out = Clock(), Outbox()
    a = _alerter(clock, language="zh_CN")
    a.line_state("gsm1", "up", "", [])
    a.line_state("gsm1", "no-network", "", [])
    assert a.sent[-1]["ok"] is False                       # no other line to carry it
    a.line_state("gsm1", "up", "", [out])
    assert "恢复正常" in out.texts[0][1]


def test_alert_email_goes_to_the_smtp_relay():
    # A minimal SMTP server on loopback: enough of RFC 5321 for one message.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    got = []

    def serve():
        conn, _ = server.accept()
        f = conn.makefile("rwb")
        f.write(b"220 test\r\n"); f.flush()
        data = False
        for raw in f:
            line = raw.decode().rstrip("\r\n")
            if data:
                if line == ".":
                    data = False
                    f.write(b"250 queued\r\n")
                else:
                    got.append(line)
            elif line.upper().startswith("DATA"):
                data = True
                f.write(b"354 go\r\n")
            elif line.upper().startswith("QUIT"):
                f.write(b"221 bye\r\n"); f.flush()
                break
            else:
                f.write(b"250 ok\r\n")
            f.flush()
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    clock = Clock()
    a = _alerter(clock, alert_sms_to="", alert_email_to="owner@example.com",
                 smtp_server=f"127.0.0.1:{server.getsockname()[1]}")
    a.line_state("gsm1", "up", "", [])
    a.line_state("gsm1", "sim-missing", "", [])
    t.join(10)
    server.close()
    for _ in range(100):                     # the client thread notes the result last
        if a.sent[-1]["ok"] is not None:
            break
        time.sleep(0.05)
    assert any(l.startswith("To: owner@example.com") for l in got)
    assert any("gsm1 is DOWN (sim-missing)" in l for l in got)
    assert a.sent[-1]["ok"] is True
