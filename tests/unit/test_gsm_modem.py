"""The real modem driver against the emulated modem on a pty, per vendor."""
import queue
import time
from datetime import datetime, timedelta, timezone

import pytest

from firmware.hw.modem.at import ModemTimeout
from firmware.hw.modem.gsm import (CallAnswered, CallEnded, DtmfReceived, GsmModem, IncomingCall, LineState,
                                   SmsReceived)
from firmware.hw.modem.sms_pdu import MISSING_MARK, Reassembler
from firmware.sim import pdu as network
from firmware.sim.modem_emulator import ModemEmulator

VENDORS = ("sim7600", "sim800", "ec25")


@pytest.fixture
def rig(request):
    made = []

    def make(vendor="sim7600", pin=None, emulator_pin=None, modem_kw=None, **kw):
        emu = ModemEmulator(vendor, pin=emulator_pin, **kw)
        emu.ring_interval = 0.3
        emu.slow_delay = 0.5
        path = emu.start()
        events = queue.Queue()
        modem = GsmModem(path, vendor=vendor, pin=pin, on_event=events.put, **(modem_kw or {}))
        made.append((modem, emu))
        return modem, emu, events
    yield make
    for modem, emu in made:
        modem.close()
        emu.close()


def next_event(events, kind, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__} event")


@pytest.mark.parametrize("vendor", VENDORS)
def test_init_registers_and_reports_the_line_up(rig, vendor):
    modem, emu, events = rig(vendor)
    modem.start()
    assert next_event(events, LineState).state == "up"
    assert "ATE0" in emu.commands and "AT+CLIP=1" in emu.commands
    assert modem.signal_dbm() == -113 + 2 * 20


@pytest.mark.parametrize("vendor", VENDORS)
def test_incoming_call_caller_id_answer_dtmf_and_remote_hangup(rig, vendor):
    modem, emu, events = rig(vendor)
    modem.start()
    emu.incoming_call("13800138000")
    assert next_event(events, IncomingCall).number == "13800138000"
    modem.answer()
    assert emu.call_state == "active"
    assert modem.wait_idle() and emu.pcm_enabled == (vendor == "sim7600")
    emu.send_dtmf("5")
    emu.send_dtmf("#")
    assert next_event(events, DtmfReceived).digit == "5"
    assert next_event(events, DtmfReceived).digit == "#"
    modem.send_dtmf("7")
    assert emu.sent_dtmf == ["7"]
    emu.remote_hangup()
    assert isinstance(next_event(events, CallEnded), CallEnded)


def test_dial_out_and_hang_up(rig):
    modem, emu, events = rig("sim7600")
    modem.start()
    modem.dial("10086")
    # The voice port goes on when the far end answers (VOICE CALL: BEGIN), not at ATD's OK.
    assert emu.dialled == ["10086"] and not emu.pcm_enabled
    emu.remote_answer()
    next_event(events, CallAnswered)
    assert modem.wait_idle() and emu.pcm_enabled
    modem.hang_up()
    assert emu.call_state == "idle"
    with pytest.raises(ValueError):
        modem.dial("10086;ATH")   # nothing a user types reaches the modem unchecked


@pytest.mark.parametrize("vendor", ("sim7600", "ec25"))
def test_sms_both_ways_in_chinese_and_the_sim_is_emptied(rig, vendor):
    modem, emu, events = rig(vendor)
    modem.start()
    modem.send_sms("+8613800138000", "线路已恢复 line is back")
    assert emu.sent_sms == [("+8613800138000", "线路已恢复 line is back")]
    emu.deliver_sms("+8613900139000", "你好，请回电")
    sms = next_event(events, SmsReceived)
    assert (sms.sender, sms.text) == ("+8613900139000", "你好，请回电")
    time.sleep(0.3)
    assert any(c.startswith("AT+CMGD=") for c in emu.commands)


def test_the_right_pin_unlocks_and_a_wrong_one_is_never_retried(rig):
    modem, emu, events = rig("sim7600", pin="1234", emulator_pin="1234")
    modem.start()
    assert next_event(events, LineState).state == "up"

    modem2, emu2, events2 = rig("sim7600", pin="0000", emulator_pin="1234")
    modem2.start()
    assert next_event(events2, LineState).state == "sim-pin-rejected"
    modem2.init()
    assert [c for c in emu2.commands if c.startswith("AT+CPIN=")] == ['AT+CPIN="0000"']


def test_a_hanging_modem_times_out_and_garbage_never_crashes(rig):
    modem, emu, events = rig("sim800")
    modem.start()
    assert modem.wait_idle()
    emu.misbehave("garbage")
    with pytest.raises(ModemTimeout):
        modem.at("AT+CSQ", timeout=0.5)
    emu.misbehave("hang")
    with pytest.raises(ModemTimeout):
        modem.at("AT", timeout=0.5)
    emu.misbehave(None)
    assert modem.at("AT", timeout=2) == []


def test_sim_missing_is_reported(rig):
    modem, emu, events = rig("ec25")
    emu.misbehave("sim-missing")
    modem.start()
    assert next_event(events, LineState).state == "sim-missing"


# -- long texts: PDU mode, parts joined, the SIM emptied -------------------------------------------

LONG_CHINESE = ("您好！我想预订明天中午十二点的四人桌，靠窗的位置最好。"
                "我们有一位客人对花生过敏，请提醒厨房。另外请问店里有停车位吗？") * 7     # 406: 7 parts
LONG_ENGLISH = ("Reminder: the shop opens at 9:00 tomorrow. Orders over €50 ship free "
                "[code {SPRING}]; questions? Call us back at this number. ") * 3


def sms_events(events, wait=0.5):
    """Every SmsReceived queued within ``wait`` seconds."""
    got, deadline = [], time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if isinstance(event, SmsReceived):
            got.append(event)
    return got


def stored_on_sim(modem) -> int:
    return int(modem.at("AT+CPMS?")[0].split(",")[1])


def deleted(modem, emu, count: int, timeout: float = 5.0) -> None:
    """Wait until the driver has deleted ``count`` messages and is idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len([c for c in emu.commands if c.startswith("AT+CMGD=")]) >= count:
            break
        time.sleep(0.02)
    assert len([c for c in emu.commands if c.startswith("AT+CMGD=")]) == count
    assert modem.wait_idle()


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_long_chinese_text_arrives_whole_and_the_sim_is_empty(rig, vendor):
    assert len(LONG_CHINESE) > 400
    modem, emu, events = rig(vendor)
    modem.start()
    assert modem.wait_idle()
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=8)))
    assert emu.deliver_sms("+8613900139000", LONG_CHINESE, when=when) == 1
    sms = next_event(events, SmsReceived, timeout=10)
    assert (sms.sender, sms.text, sms.sent_at) == ("+8613900139000", LONG_CHINESE, "24/05/06,07:08:09+32")
    assert (sms.parts, sms.missing) == (7, ())
    deleted(modem, emu, 7)
    assert sms_events(events) == []                       # one message, not seven
    assert "AT+CMGF=0" in emu.commands and "AT+CMGF=1" not in emu.commands
    assert len([c for c in emu.commands if c.startswith("AT+CMGR=")]) == 7
    assert stored_on_sim(modem) == 0


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_long_text_from_the_box_goes_in_parts_and_arrives_joined(rig, vendor):
    modem, emu, events = rig(vendor)
    modem.start()
    modem.send_sms("+8613800138000", LONG_ENGLISH)
    assert emu.sent_sms == [("+8613800138000", LONG_ENGLISH)]
    assert len(emu.sent_pdus) == 3                        # 153 septets a part, € [ { } } take two
    cmgs = [c for c in emu.commands if c.startswith("AT+CMGS=")]
    assert cmgs == [f"AT+CMGS={len(p) // 2}" for p in emu.sent_pdus]
    modem.send_sms("13800138000", "好的 👍")              # short, UCS2 with an emoji
    assert emu.sent_sms[-1] == ("13800138000", "好的 👍") and len(emu.sent_pdus) == 4


def test_parts_out_of_order_and_repeated_make_one_text(rig):
    modem, emu, events = rig("ec25")
    modem.start()
    assert modem.wait_idle()
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=8)))
    first, second, third = network.deliver_tpdus("10086", "x" * 400 + "END", when, ref=200)
    for tpdu in (third, first, third):
        emu.deliver_pdu(tpdu)
    deleted(modem, emu, 3)
    assert sms_events(events) == []
    emu.deliver_pdu(second)
    sms = next_event(events, SmsReceived)
    assert sms.text == "x" * 400 + "END" and sms.sender == "10086"
    deleted(modem, emu, 4)
    assert sms_events(events) == [] and stored_on_sim(modem) == 0


def test_a_text_missing_a_part_is_reported_marked_after_the_timeout(rig):
    modem, emu, events = rig("sim800", modem_kw={"reassembler": Reassembler(timeout=0.5)})
    modem.start()
    assert modem.wait_idle()
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=8)))
    first, second, third = network.deliver_tpdus("+8613900139000", "一二三" * 60, when, ref=9)
    emu.deliver_pdu(first)
    emu.deliver_pdu(third)
    deleted(modem, emu, 2)
    assert stored_on_sim(modem) == 0                      # parts leave the SIM at once
    sms = next_event(events, SmsReceived, timeout=3)
    assert sms.missing == (2,) and sms.parts == 3
    assert MISSING_MARK.format(seq=2, total=3) in sms.text and sms.text.startswith("一二三")


def test_parts_stored_while_the_box_was_off_are_joined_at_start(rig):
    modem, emu, events = rig("sim7600")
    emu.deliver_sms("+8613900139000", LONG_ENGLISH)      # nobody listening yet
    modem.start()
    sms = next_event(events, SmsReceived, timeout=10)
    assert sms.text == LONG_ENGLISH
    deleted(modem, emu, 3)
    assert sms_events(events) == [] and stored_on_sim(modem) == 0


def test_parts_survive_a_new_modem_object_on_the_same_line(rig):
    # The supervisor reopens the port with a fresh GsmModem; the line keeps
    # the reassembler, so a part read before and one after still join.
    shared = Reassembler()
    modem, emu, events = rig("sim7600", modem_kw={"reassembler": shared})
    modem.start()
    assert modem.wait_idle()
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=8)))
    first, second = network.deliver_tpdus("10086", "y" * 200, when, ref=3)
    emu.deliver_pdu(first)
    deleted(modem, emu, 1)
    modem.close()
    assert shared.pending == 1
    again = GsmModem(emu.path, vendor="sim7600", on_event=events.put, reassembler=shared)
    try:
        again.start()
        emu.deliver_pdu(second)
        assert next_event(events, SmsReceived).text == "y" * 200
    finally:
        again.close()


def test_a_part_is_in_the_journal_before_it_leaves_the_sim_and_survives_a_restart(rig, tmp_path):
    # The core restarts (new store, journal, reassembler, modem) between the parts.
    from firmware.lines.sms_journal import SmsPartJournal
    from firmware.records.store import RecordStore

    class WatchedJournal(SmsPartJournal):
        def save(self, part):
            row = super().save(part)
            saved_before_delete.append(not any(c.startswith("AT+CMGD=") for c in emu.commands))
            return row

    saved_before_delete: list[bool] = []
    store = RecordStore(tmp_path / "records.db").open()
    modem, emu, events = rig("ec25", modem_kw={"reassembler": Reassembler(journal=WatchedJournal(store, "gsm1"))})
    modem.start()
    assert modem.wait_idle()
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=8)))
    first, second = network.deliver_tpdus("10086", "z" * 200, when, ref=77)
    emu.deliver_pdu(first)
    deleted(modem, emu, 1)
    assert saved_before_delete == [True] and len(store.sms_parts("gsm1")) == 1
    modem.close()
    store.close()

    store = RecordStore(tmp_path / "records.db").open()
    parts = Reassembler(journal=SmsPartJournal(store, "gsm1"))
    assert parts.restore(time.monotonic()) == [] and parts.pending == 1
    again = GsmModem(emu.path, vendor="ec25", on_event=events.put, reassembler=parts)
    try:
        again.start()
        emu.deliver_pdu(second)
        sms = next_event(events, SmsReceived)
        assert sms.text == "z" * 200 and len(sms.journal_rows) == 2
        assert store.add_sms(0.0, "gsm1", "in", sms.sender, sms.text, "received", sms.sent_at,
                             parts=sms.journal_rows) is not None
        assert store.sms_parts("gsm1") == [] and len(store.sms()) == 1
    finally:
        again.close()
        store.close()


def test_a_part_the_journal_refuses_stays_on_the_sim(rig):
    from firmware.hw.modem.sms_pdu import JournalError

    class FullDisk:
        def save(self, part):
            raise JournalError("disk full")

    modem, emu, events = rig("sim7600", modem_kw={"reassembler": Reassembler(journal=FullDisk())})
    modem.start()
    assert modem.wait_idle()
    for n, text in enumerate(("short and sweet", "and the worker still reads"), 1):
        emu.deliver_sms("10086", text)
        deadline = time.monotonic() + 3
        while len([c for c in emu.commands if c.startswith("AT+CMGR=")]) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert modem.wait_idle()
    assert len([c for c in emu.commands if c.startswith("AT+CMGR=")]) == 2
    assert not any(c.startswith("AT+CMGD=") for c in emu.commands)
    assert stored_on_sim(modem) == 2 and sms_events(events) == []
