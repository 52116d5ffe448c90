"""Texts taken off a SIM outlive a restart: the reassembler's journal in
records.db (firmware/lines/sms_journal.py, firmware/hw/modem/sms_pdu.py),
and the bank storing a text and dropping its parts in one transaction.

A "restart" is a new RecordStore, journal and Reassembler on the same file;
one test kills a writer with SIGKILL, one runs the real line and bank
against the emulated modem.
"""
from __future__ import annotations

import logging
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from firmware.hw.modem.sms_pdu import (MISSING_MARK, Concat, JournalError, Reassembler, SmsDeliver,
                                       decode_deliver)
from firmware.lines.bank import LineBank
from firmware.lines.gsm_line import GsmLine
from firmware.lines.sms_journal import SmsPartJournal
from firmware.records.store import RecordStore
from firmware.sim import pdu as network
from firmware.sim.modem_emulator import ModemEmulator

ROOT = Path(__file__).resolve().parents[2]
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=8)))
CALLER_FIELD = "0D91" + "683108108300F0"       # +8613800138000
SCTS_WHEN = "42506070809023"


def part(seq: int, total: int = 3, text: str | None = None, *, ref: int = 7,
         sender: str = "+8613800138000") -> SmsDeliver:
    return SmsDeliver(sender=sender, text=text if text is not None else f"<{seq}>", timestamp=WHEN,
                      sent_at=f"24/05/06,07:08:0{seq}+32", concat=Concat(ref, total, seq))


class WallClock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Box:
    """One core's worth of records.db, journal and reassembler; ``restart()``
    throws them away and opens new ones on the same file."""

    def __init__(self, path: Path, *, timeout: float = 1800.0):
        self.path, self.timeout = path, timeout
        self.wall = WallClock()
        self._open()

    def _open(self) -> None:
        self.store = RecordStore(self.path).open()
        self.journal = SmsPartJournal(self.store, "gsm1", clock=self.wall)
        self.parts = Reassembler(journal=self.journal, timeout=self.timeout)

    def restart(self, now: float = 0.0) -> list:
        self.store.close()
        self._open()
        return self.parts.restore(now)

    def stored(self, message) -> int | None:
        """What the bank does on the owner thread."""
        return self.store.add_sms(self.wall(), "gsm1", "in", message.sender, message.text, "received",
                                  message.sent_at, parts=message.journal_rows)

    def rows(self) -> int:
        return len(self.store.sms_parts("gsm1"))

    def texts(self) -> list[str]:
        return [m["text"] for m in self.store.sms() if m["direction"] == "in"]


@pytest.fixture
def box(tmp_path):
    b = Box(tmp_path / "records.db")
    yield b
    b.store.close()


def test_parts_survive_a_restart_and_the_rest_completes_the_text(box):
    assert box.parts.add(part(1), 0) == [] and box.parts.add(part(3), 1) == []
    assert box.rows() == 2
    assert box.restart(now=5) == []
    assert box.parts.pending == 1
    [message] = box.parts.add(part(2), 6)
    assert (message.text, message.parts, message.missing) == ("<1><2><3>", 3, ())
    assert message.sent_at == "24/05/06,07:08:01+32"
    assert box.stored(message) is not None
    assert box.texts() == ["<1><2><3>"] and box.rows() == 0


def test_the_timeout_counts_from_when_the_parts_came_not_from_the_restart(box):
    box.parts.add(part(1), 100)                  # wall clock: WallClock's start
    box.wall.now += 20 * 60                      # down for 20 minutes
    assert box.restart(now=7) == []
    # 30 min after the part came is 10 min after the restart, not 30.
    assert box.parts.next_deadline() == pytest.approx(7 + 10 * 60)
    assert box.parts.expire(7 + 10 * 60 - 1) == []
    [message] = box.parts.expire(7 + 10 * 60)
    assert message.text == "<1>" + MISSING_MARK.format(seq=2, total=3) + MISSING_MARK.format(seq=3, total=3)
    box.stored(message)
    assert box.rows() == 0


def test_a_text_overdue_while_the_box_was_off_goes_out_at_start(box):
    box.parts.add(part(1, 2), 0)
    box.wall.now += 3600
    [message] = box.restart(now=0)
    assert message.missing == (2,) and box.parts.pending == 0


def test_texts_given_out_leave_no_rows_whole_expired_late_or_single(box):
    single = decode_deliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
    out = box.parts.add(single, 0) + box.parts.add(part(1, 2), 0) + box.parts.add(part(2, 2), 1)
    out += box.parts.add(part(1, ref=9), 2) + box.parts.expire(2 + 1800)
    out += box.parts.add(part(2, ref=9), 1900)  # late
    assert [m.parts for m in out] == [1, 2, 3, 3]
    assert box.rows() == 5
    for message in out:
        assert box.stored(message) is not None
    assert box.rows() == 0 and len(box.texts()) == 4


def test_a_text_given_out_but_not_stored_before_a_crash_is_stored_once(box):
    box.parts.add(part(1, 2), 0)
    [first] = box.parts.add(part(2, 2), 1)       # posted to the owner thread: then kill -9
    [again] = box.restart(now=0)                  # whole: given out at start
    assert again.text == first.text == "<1><2>" and again.journal_rows == first.journal_rows
    assert box.stored(again) is not None
    assert box.stored(first) is None             # the old post, had it survived: no duplicate
    assert box.texts() == ["<1><2>"] and box.rows() == 0
    assert box.parts.add(part(2, 2), 2) == []    # read again off the SIM: a repeat


def test_half_an_emoji_at_the_end_of_a_part_survives_the_journal(box):
    # Part 1 ends in the high half of U+1F600 (not valid UTF-8 on its own).
    half1 = decode_deliver("00" + "40" + CALLER_FIELD + "0008" + SCTS_WHEN + "0C" + "05000377020100410042D83D")
    half2 = decode_deliver("00" + "44" + CALLER_FIELD + "0008" + SCTS_WHEN + "08" + "050003770202DE00")
    assert box.parts.add(half1, 0) == []
    box.restart()
    [message] = box.parts.add(half2, 1)
    assert message.text == "AB😀"


def test_odd_rows_are_logged_and_skipped(box, caplog):
    box.parts.add(part(1, 2), 0)
    db = sqlite3.connect(box.path)
    cols = "line, received, sender, ref_bits, ref, total, seq, text, sent_at"
    good = ("gsm1", box.wall(), "10086", 8, 1, 2, 2)
    odd = [
        good + (b"\xff\xfe not utf-8", ""),
        ("gsm1", box.wall(), "10086", 8, 1, 2, 3, b"seq over total", ""),
        ("gsm1", box.wall(), "10086", 7, 1, 2, 1, b"no 7-bit references", ""),
        ("gsm1", "yesterday", "10086", 8, 1, 2, 1, b"a time that is not", ""),
        ("gsm1", box.wall(), b"10086", 8, 1, 2, 1, b"a sender in bytes", ""),
        ("gsm1", box.wall(), "10086", 8, 1, "two", 1, b"total not a number", ""),
        ("gsm1", box.wall(), "10086", 8, 1, 2, 1, "text, not bytes", ""),
    ]
    with db:
        db.executemany(f"INSERT INTO sms_parts ({cols}) VALUES (?,?,?,?,?,?,?,?,?)", odd)
    db.close()
    with caplog.at_level(logging.ERROR, logger="firmware.lines.sms_journal"):
        assert box.restart() == []
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == len(odd)
    assert box.parts.pending == 1                # the good part still waits
    [message] = box.parts.add(part(2, 2), 1)
    assert message.text == "<1><2>"


def test_a_row_that_repeats_a_part_is_forgotten_at_start(box):
    box.journal.save(part(1, 2))
    box.journal.save(part(1, 2))                 # the same part twice
    assert box.restart() == [] and box.parts.pending == 1
    assert box.rows() == 1


def test_a_journal_that_cannot_write_takes_nothing_and_loses_no_text(box):
    box.parts.add(part(1, 2, ref=1), 0)
    box.store.close()                            # the disk went away
    with pytest.raises(JournalError):
        box.parts.add(part(1, 2, ref=2), 1800)   # part 1 of ref 1 is overdue meanwhile
    assert box.parts.pending == 0                # ref 2 not taken: it stays on the SIM
    assert box.parts.next_deadline() <= 1800
    [overdue] = box.parts.expire(1801)           # ... and the overdue text is not lost
    assert overdue.missing == (2,) and overdue.text.startswith("<1>")


def test_lines_keep_their_own_parts(box):
    box.parts.add(part(1, 2), 0)
    other = Reassembler(journal=SmsPartJournal(box.store, "gsm2"))
    assert other.restore(0) == [] and other.pending == 0


KEEP_ONE_PART = """
import sys, time
from firmware.hw.modem.sms_pdu import Concat, Reassembler, SmsDeliver
from firmware.lines.sms_journal import SmsPartJournal
from firmware.records.store import RecordStore
store = RecordStore(sys.argv[1]).open()
parts = Reassembler(journal=SmsPartJournal(store, "gsm1"))
parts.add(SmsDeliver(sender="10086", text="first half, ", timestamp=None, concat=Concat(5, 2, 1)), time.monotonic())
print("kept", flush=True)      # the modem deletes it from the SIM now
time.sleep(60)
"""


def test_a_part_kept_survives_kill_9(tmp_path):
    path = tmp_path / "records.db"
    proc = subprocess.Popen([sys.executable, "-c", KEEP_ONE_PART, str(path)], stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert proc.stdout.readline().strip() == "kept"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    with RecordStore(path) as store:
        parts = Reassembler(journal=SmsPartJournal(store, "gsm1"))
        assert parts.restore(0) == [] and parts.pending == 1
        [message] = parts.add(SmsDeliver(sender="10086", text="second half", timestamp=None,
                                         concat=Concat(5, 2, 2)), 1)
    assert message.text == "first half, second half"


# -- the real line and bank against the emulated modem -------------------------------------------------

class FakeEngine:
    changed = False

    def attach_line(self, line):
        pass


class Owner:
    """The core's owner thread: runs what lines post, when the test says."""

    def __init__(self):
        self.posted: queue.Queue = queue.Queue()

    def run_until(self, done, timeout: float = 10.0, what: str = "it") -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            try:
                self.posted.get(timeout=0.05)()
            except queue.Empty:
                pass

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        self.run_until(lambda: time.monotonic() > deadline, timeout=seconds + 1)


def start_bank(store: RecordStore, emu: ModemEmulator, owner: Owner) -> LineBank:
    bank = LineBank(FakeEngine(), store, lambda rec, listener: GsmLine(
        rec, listener=listener, post=owner.posted.put, check_every=0.2, ping_timeout=1.0))
    rec = {"id": "gsm1", "kind": "gsm", "device": emu.path, "vendor": "sim7600", "route": "main"}
    bank.configure(SimpleNamespace(outbound=[], lines={"gsm1": rec}))
    owner.run_until(lambda: bank.lines["gsm1"].state == "up", what="the line to come up")
    bank.lines["gsm1"].supervisor.modem.wait_idle()
    return bank


def cmgd_count(emu) -> int:
    return len([c for c in emu.commands if c.startswith("AT+CMGD=")])


def test_a_long_text_half_in_when_the_core_restarts_is_stored_once(tmp_path):
    path = tmp_path / "records.db"
    emu = ModemEmulator("sim7600")
    emu.start()
    owner = Owner()
    first, second = network.deliver_tpdus("+8613900139000", "半" * 100, WHEN, ref=42)
    try:
        store = RecordStore(path).open()
        bank = start_bank(store, emu, owner)
        emu.deliver_pdu(first)
        owner.run_until(lambda: cmgd_count(emu) == 1, what="part 1 off the SIM")
        assert len(store.sms_parts("gsm1")) == 1
        bank.close()                             # the core stops with half a text in
        store.close()

        store = RecordStore(path).open()
        bank = start_bank(store, emu, owner)
        emu.deliver_pdu(second)
        owner.run_until(lambda: store.sms(), what="the text stored")
        owner.drain(0.5)                         # anything else posted runs too
        [text] = store.sms()
        assert (text["number"], text["text"], text["direction"]) == ("+8613900139000", "半" * 100, "in")
        assert store.sms_parts("gsm1") == []
        assert cmgd_count(emu) == 2
        bank.close()
        store.close()
    finally:
        emu.close()
