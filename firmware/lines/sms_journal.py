"""A GSM line's received texts in ``records.db`` from the moment they leave
the SIM until the whole text is stored.

The modem deletes each message from the SIM as soon as it has read it (so
the SIM never fills up); the line's
:class:`~firmware.hw.modem.sms_pdu.Reassembler` saves it here first
(table ``sms_parts``, one row per part, or per text in one part). A kill -9
or power cut while a long text is half in therefore loses nothing: the
line's next start loads the parts back with the wall-clock time they came,
and the timeout keeps counting from then. The rows of a text are deleted
in the same transaction that stores the text (``RecordStore.add_sms`` with
``parts=``, called by the bank); a crash before that gives the text out
again at the next start, and ``add_sms`` stores it only once.

Owns the mapping between a part and its row; it must not touch the modem.
Threads: :meth:`SmsPartJournal.save` runs on the modem's worker thread,
:meth:`~SmsPartJournal.load` and :meth:`~SmsPartJournal.forget` on the
thread that starts the line (the owner thread); the record store's lock
serialises them with everything else written to ``records.db``.
"""
from __future__ import annotations

import logging
import math
import sqlite3
import time
from typing import Callable, Iterable

from firmware.hw.modem.sms_pdu import MAX_PARTS, Concat, JournalError, KeptPart, SmsDeliver
from firmware.records.store import RecordStore

log = logging.getLogger(__name__)


class SmsPartJournal:
    """One line's :class:`~firmware.hw.modem.sms_pdu.PartJournal` in the record store.

    :param records: the core's open record store.
    :param line: the line's name (rows are kept per line).
    :param clock: wall-clock seconds (a part's age must survive a reboot).
    """

    def __init__(self, records: RecordStore, line: str, *, clock: Callable[[], float] = time.time):
        self.records = records
        self.line = line
        self.clock = clock

    def save(self, part: SmsDeliver) -> int:
        c = part.concat
        ref_bits, ref, total, seq = (c.ref_bits, c.ref, c.total, c.seq) if c else (0, 0, 1, 1)
        try:
            return self.records.add_sms_part(self.line, self.clock(), part.sender, ref_bits, ref, total, seq,
                                             part.text.encode("utf-8", "surrogatepass"), part.sent_at)
        except sqlite3.Error as exc:
            raise JournalError(f"line {self.line}: text part not kept in {self.records.path.name}: {exc}") from exc

    def load(self) -> list[KeptPart]:
        """The line's parts, oldest first; a row that makes no sense is
        logged and skipped (left in the table for a person to look at)."""
        try:
            rows = self.records.sms_parts(self.line)
        except sqlite3.Error as exc:
            raise JournalError(f"line {self.line}: kept text parts not read: {exc}") from exc
        now = self.clock()
        kept = []
        for row in rows:
            try:
                kept.append(KeptPart(row["id"], part_of(row), now - _number(row["received"])))
            except (TypeError, ValueError, KeyError) as exc:
                log.error("line %s: kept text part %s skipped, it makes no sense: %s",
                          self.line, row.get("id"), exc)
        return kept

    def forget(self, rows: Iterable[int]) -> None:
        try:
            self.records.forget_sms_parts(rows)
        except sqlite3.Error as exc:
            raise JournalError(f"line {self.line}: kept text parts not removed: {exc}") from exc


def part_of(row: dict) -> SmsDeliver:
    """The part a row keeps, as the reassembler needs it.

    :raises TypeError, ValueError: a field of the wrong type or out of range
        (UnicodeDecodeError is a ValueError).
    """
    sender, sent_at, text = row["sender"], row["sent_at"], row["text"]
    if not (isinstance(sender, str) and isinstance(sent_at, str) and isinstance(text, bytes)):
        raise TypeError("sender, sent_at or text of the wrong type")
    ref_bits, ref, total, seq = (_integer(row[k]) for k in ("ref_bits", "ref", "total", "seq"))
    if ref_bits == 0:
        concat = None
    elif ref_bits in (8, 16) and 0 <= ref < 1 << ref_bits and 1 <= seq <= total <= MAX_PARTS:
        concat = Concat(ref, total, seq, ref_bits)
    else:
        raise ValueError(f"no such part: {seq} of {total}, reference {ref} ({ref_bits} bits)")
    return SmsDeliver(sender=sender, text=text.decode("utf-8", "surrogatepass"), timestamp=None,
                      sent_at=sent_at, concat=concat)


def _integer(value) -> int:
    if type(value) is not int:
        raise TypeError(f"not an integer: {value!r}")
    return value


def _number(value) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise TypeError(f"not a time: {value!r}")
    return float(value)
