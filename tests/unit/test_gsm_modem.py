"""The real modem driver against the emulated modem on a pty, per vendor."""
import queue
import time

import pytest

from firmware.hw.modem.at import ModemTimeout
from firmware.hw.modem.gsm import (CallAnswered, CallEnded, DtmfReceived, GsmModem, IncomingCall, LineState,
                                   SmsReceived)
from firmware.sim.modem_emulator import ModemEmulator

VENDORS = ("sim7600", "sim800", "ec25")


@pytest.fixture
def rig(request):
    made = []

    def make(vendor="sim7600", pin=None, emulator_pin=None, **kw):
        emu = ModemEmulator(vendor, pin=emulator_pin, **kw)
        emu.ring_interval = 0.3
        emu.slow_delay = 0.5
        path = emu.start()
        events = queue.Queue()
        modem = GsmModem(path, vendor=vendor, pin=pin, on_event=events.put)
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
    assert emu.dialled == ["10086"] and emu.pcm_enabled
    emu.remote_answer()
    next_event(events, CallAnswered)
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
