"""Line-down and line-recovered alerts for the owner: a text, an e-mail, or both.

A 24-hour shop must learn that its line is down before customers tell it.
When a line that was up goes to any other state, and when it comes back,
the owner gets a message in the box's language: by SMS through another
line that is up (the broken line cannot carry it), and by e-mail through
the configured SMTP relay. Both are optional; with neither set, or no
other line up, the event is still logged and kept in ``line_events``.

A line that flaps is not allowed to flood the owner's phone: a down alert
within ``alert_hold_s`` (settings, default 300 s) of the line's previous
alert is held, and sent by :meth:`tick` once that time has passed if the
line is still down; if it came back meanwhile, nobody is bothered. E-mail goes out on its own short-lived
thread so a slow relay never holds up the owner thread.
"""
from __future__ import annotations

import logging
import smtplib
import threading
import time
from email.message import EmailMessage
from typing import Callable

log = logging.getLogger(__name__)

TEXTS = {
    "en": {"down": "SmallPBX: line {line} is DOWN ({state}{detail}) since {time}.",
           "up": "SmallPBX: line {line} is working again since {time}."},
    "zh_CN": {"down": "SmallPBX：线路 {line} 故障（{state}{detail}），开始于 {time}。",
              "up": "SmallPBX：线路 {line} 已于 {time} 恢复正常。"},
}


class Alerter:
    """
    :param settings: returns the current settings (``alert_sms_to``,
        ``alert_email_to``, ``smtp_server``, ``smtp_from``, ``language``).
    """

    def __init__(self, settings: Callable[[], dict], *, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.clock = clock
        self.sent: list[dict] = []                  # what went out (status and tests)
        self._was_up: dict[str, bool] = {}
        self._last_sent: dict[str, float] = {}
        self._told_down: set[str] = set()
        self._held: dict[str, tuple[str, str]] = {}  # line -> (state, detail) not told yet

    def line_state(self, line: str, state: str, detail: str, working_lines: list) -> None:
        was_up = self._was_up.get(line, False)
        self._was_up[line] = state == "up"
        if state != "up":
            if not was_up:
                if line in self._held:
                    self._held[line] = (state, detail)
                return                       # never up yet, or already told it is down
            if self.clock() - self._last_sent.get(line, -1e18) < self._hold_s():
                log.warning("line %s %s again: alert held back (flapping)", line, state)
                self._held[line] = (state, detail)
                return
        elif self._held.pop(line, None) is not None or was_up or line not in self._told_down:
            return                           # first start, or an outage nobody was told of
        self._send(line, state, detail, working_lines)

    def tick(self, working_lines: Callable[[str], list]) -> None:
        """Send held alerts whose hold time is over (owner thread, every second or so)."""
        now = self.clock()
        for line, (state, detail) in list(self._held.items()):
            if now - self._last_sent.get(line, -1e18) >= self._hold_s():
                del self._held[line]
                self._send(line, state, detail, working_lines(line))

    def _hold_s(self) -> float:
        return float(self.settings().get("alert_hold_s", 300))

    def _send(self, line: str, state: str, detail: str, working_lines: list) -> None:
        if state == "up":
            self._told_down.discard(line)
        else:
            self._told_down.add(line)
        now = self.clock()
        self._last_sent[line] = now
        settings = self.settings()
        texts = TEXTS.get(settings.get("language"), TEXTS["en"])
        message = texts["up" if state == "up" else "down"].format(
            line=line, state=state, detail=f": {detail}" if detail else "",
            time=time.strftime("%Y-%m-%d %H:%M", time.localtime(now)))
        log.warning("ALERT %s", message)
        self._by_sms(settings, message, working_lines)
        self._by_email(settings, message)

    def _by_sms(self, settings: dict, message: str, working_lines: list) -> None:
        number = settings.get("alert_sms_to")
        if not number:
            return
        if not working_lines:
            log.error("no other line is up: the alert cannot go out by SMS")
            self.sent.append({"via": "sms", "to": number, "text": message, "ok": False})
            return
        working_lines[0].send_sms(number, message)
        self.sent.append({"via": "sms", "line": working_lines[0].name, "to": number, "text": message, "ok": True})

    def _by_email(self, settings: dict, message: str) -> None:
        to, server = settings.get("alert_email_to"), settings.get("smtp_server")
        if not to or not server:
            return
        host, port = server.rsplit(":", 1)
        mail = EmailMessage()
        mail["From"] = settings.get("smtp_from") or f"smallpbx@{host}"
        mail["To"] = to
        mail["Subject"] = message.split(" (")[0].split("（")[0]
        mail.set_content(message)
        record = {"via": "email", "to": to, "text": message, "ok": None}
        self.sent.append(record)

        def send():
            try:
                with smtplib.SMTP(host, int(port), timeout=10) as smtp:
                    smtp.send_message(mail)
                record["ok"] = True
            except (OSError, smtplib.SMTPException) as exc:
                record["ok"] = False
                log.error("alert e-mail to %s failed: %s", to, exc)
        threading.Thread(target=send, name="alert-mail", daemon=True).start()
