"""The emulated GSM modem, driven through pyserial on its pty exactly as the
real driver drives a module: exact response lines per vendor dialect, the
far end (calls, DTMF, SMS) and each misbehaviour."""
from __future__ import annotations

import math
import re
import struct
import time
from datetime import datetime, timedelta, timezone

import pytest
import serial

from firmware.errors import SmallPbxError
from firmware.hw.modem.sms_pdu import decode_deliver, encode_submit
from firmware.sim import EmulatorError, ModemEmulator

FINALS = ("OK", "ERROR", "NO CARRIER", "BUSY", "NO ANSWER")
CALLER = "+8613800138000"
UTC8 = timezone(timedelta(hours=8))


class Port:
    """The DTE side: a pyserial port on the emulator's pty."""

    def __init__(self, path: str):
        self.ser = serial.Serial(path, timeout=2)

    def send(self, data: str | bytes) -> None:
        self.ser.write(data.encode() if isinstance(data, str) else data)

    def line(self) -> str:
        """The next non-empty line; fails on timeout."""
        while True:
            raw = self.ser.read_until(b"\r\n")
            assert raw.endswith(b"\r\n"), f"no complete line, got {raw!r}"
            text = raw.decode("latin-1").strip()
            if text:
                return text

    def cmd(self, command: str) -> list[str]:
        """Send one command line; every line up to and including the final
        result code (echo and interleaved URCs too)."""
        self.send(command + "\r")
        lines = []
        while True:
            lines.append(self.line())
            last = lines[-1]
            if last in FINALS or last.startswith(("+CME ERROR:", "+CMS ERROR:")):
                return lines

    def quiet(self, seconds: float = 0.2) -> bytes:
        """Whatever arrives within `seconds` (b"" when the modem says nothing)."""
        self.ser.timeout = seconds
        try:
            return self.ser.read(4096)
        finally:
            self.ser.timeout = 2

    def close(self) -> None:
        self.ser.close()


@pytest.fixture
def modem():
    """modem(vendor, **kwargs) -> (emulator, port), echo off, short timers."""
    made: list[tuple[ModemEmulator, Port]] = []

    def make(vendor: str = "sim7600", *, echo: bool = False, **kwargs):
        emu = ModemEmulator(vendor, **kwargs)
        emu.ring_interval = 0.15
        emu.alert_delay = 0.0
        emu.slow_delay = 0.3
        port = Port(emu.start())
        made.append((emu, port))
        if not echo:
            assert port.cmd("ATE0") == ["ATE0", "OK"]
        return emu, port

    yield make
    for emu, port in made:
        port.close()
        emu.close()


def wait_until(predicate, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def ucs2(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def assert_voice_call_end(line: str) -> None:
    """SIM7600's end-of-call line; the duration is hhmmss (a few seconds here)."""
    assert re.fullmatch(r"VOICE CALL: END: 0000\d\d", line), line


# -- basics ------------------------------------------------------------------

def test_at_answers_ok_framed_like_a_module_with_echo(modem):
    emu, port = modem(echo=True)
    port.send("AT\r")
    assert port.ser.read(9) == b"AT\r\r\nOK\r\n"
    assert emu.commands == ["AT"]


def test_echo_on_then_off(modem):
    emu, port = modem(echo=True)
    assert port.cmd("AT") == ["AT", "OK"]
    assert port.cmd("ATE0") == ["ATE0", "OK"]          # echoed: echo was still on
    port.send("AT\r")
    assert port.ser.read(6) == b"\r\nOK\r\n"
    assert port.cmd("ATE1") == ["OK"]
    assert port.cmd("AT") == ["AT", "OK"]


def test_line_ends_cr_crlf_and_lf_all_accepted(modem):
    emu, port = modem()
    port.send("AT\r\nAT\nAT+CSQ\r")
    assert [port.line() for _ in range(4)] == ["OK", "OK", "+CSQ: 20,99", "OK"]
    assert emu.commands == ["ATE0", "AT", "AT", "AT+CSQ"]


def test_chained_commands_share_one_final_result(modem):
    emu, port = modem()
    assert port.cmd('AT+CMEE=1;+CSCS="UCS2";+CSCS?') == ['+CSCS: "UCS2"', "OK"]
    assert port.cmd("ATE0+CMEE?") == ["+CMEE: 1", "OK"]
    assert port.cmd("AT+CMEE=1;+BOGUS;+CSQ") == ["+CME ERROR: 4"]


@pytest.mark.parametrize("vendor, ati, model, maker", [
    ("sim7600", ["Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600E-H",
                 "Revision: LE20B04SIM7600M22", "IMEI: 867584030000001", "+GCAP: +CGSM"],
     "SIMCOM_SIM7600E-H", "SIMCOM INCORPORATED"),
    ("sim800", ["SIM800 R14.18"], "SIM800L", "SIMCOM_Ltd"),
    ("ec25", ["Quectel", "EC25", "Revision: EC25EFAR06A06M4G"], "EC25", "Quectel"),
])
def test_identity(modem, vendor, ati, model, maker):
    emu, port = modem(vendor)
    assert port.cmd("ATI") == [*ati, "OK"]
    assert port.cmd("AT+CGMM") == [model, "OK"]
    assert port.cmd("AT+CGMI") == [maker, "OK"]
    assert port.cmd("AT+CGSN") == ["867584030000001", "OK"]
    assert port.cmd("AT+CIMI") == ["460001234567890", "OK"]


def test_unknown_command_plain_error_then_cme_4_then_verbose(modem):
    emu, port = modem()
    assert port.cmd("AT+FOO") == ["ERROR"]
    assert port.cmd("AT+CMEE=1") == ["OK"]
    assert port.cmd("AT+FOO") == ["+CME ERROR: 4"]
    assert port.cmd("AT+CMEE=2") == ["OK"]
    assert port.cmd("AT+FOO") == ["+CME ERROR: operation not supported"]


def test_text_that_is_not_a_command_gets_no_answer(modem):
    emu, port = modem()
    port.send("hello\r")
    assert port.quiet(0.15) == b""
    assert port.cmd("AT") == ["OK"]


# -- SIM ------------------------------------------------------------------------

def test_pin_flow_wrong_pin_then_right_pin(modem):
    emu, port = modem("sim7600", pin="1234")
    assert port.cmd("AT+CMEE=1") == ["OK"]
    assert port.cmd("AT+CPIN?") == ["+CPIN: SIM PIN", "OK"]
    assert port.cmd("AT+CIMI") == ["+CME ERROR: 11"]
    assert port.cmd("AT+CREG?") == ["+CREG: 0,0", "OK"]
    assert port.cmd('AT+CPIN="0000"') == ["+CME ERROR: 16"]
    assert port.cmd("AT+SPIC") == ["+SPIC: 2,10,3,10", "OK"]
    assert port.cmd('AT+CPIN="1234"') == ["OK"]
    assert [port.line() for _ in range(3)] == ["+CPIN: READY", "SMS DONE", "PB DONE"]
    assert port.cmd("AT+CPIN?") == ["+CPIN: READY", "OK"]
    assert port.cmd("AT+SPIC") == ["+SPIC: 3,10,3,10", "OK"]
    assert port.cmd("AT+CREG?") == ["+CREG: 0,1", "OK"]
    assert port.cmd('AT+CPIN="1234"') == ["+CME ERROR: 3"]      # nothing to unlock


def test_three_wrong_pins_need_the_puk_quectel_counters(modem):
    emu, port = modem("ec25", pin="1234", puk="87654321")
    port.cmd("AT+CMEE=1")
    assert port.cmd('AT+QPINC="SC"') == ['+QPINC: "SC",3,10', "OK"]
    for left in (2, 1, 0):
        assert port.cmd('AT+CPIN="9999"') == ["+CME ERROR: 16"]
        assert port.cmd('AT+QPINC="SC"') == [f'+QPINC: "SC",{left},10', "OK"]
    assert port.cmd("AT+CPIN?") == ["+CPIN: SIM PUK", "OK"]
    assert port.cmd('AT+CPIN="1234"') == ["+CME ERROR: 12"]    # the PIN is no use now
    assert port.cmd('AT+CPIN="11111111","4321"') == ["+CME ERROR: 16"]
    assert port.cmd("AT+QPINC?") == ['+QPINC: "SC",0,9', '+QPINC: "P2",3,10', "OK"]
    assert port.cmd('AT+CPIN="87654321","4321"') == ["OK"]
    assert [port.line() for _ in range(4)] == [
        "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"]
    assert port.cmd("AT+CPIN?") == ["+CPIN: READY", "OK"]
    assert emu.pin == "4321"


def test_wrong_pin_is_plain_error_without_cmee(modem):
    emu, port = modem("sim800", pin="1234")
    assert port.cmd('AT+CPIN="0000"') == ["ERROR"]
    assert port.cmd("AT+SPIC") == ["+SPIC: 2,10,3,10", "OK"]
    assert port.cmd("AT+QPINC?") == ["ERROR"]                   # Quectel's, not SIMCom's


# -- network --------------------------------------------------------------------------

@pytest.mark.parametrize("vendor, act, cereg", [
    ("sim7600", 7, ["+CEREG: 0,1", "OK"]),
    ("sim800", 0, ["+CME ERROR: 4"]),                           # 2G module: no CEREG
    ("ec25", 7, ["+CEREG: 0,1", "OK"]),
])
def test_network_status(modem, vendor, act, cereg):
    emu, port = modem(vendor, signal=23)
    port.cmd("AT+CMEE=1")
    assert port.cmd("AT+CSQ") == ["+CSQ: 23,99", "OK"]
    assert port.cmd("AT+CREG?") == ["+CREG: 0,1", "OK"]
    assert port.cmd("AT+COPS?") == [f'+COPS: 0,0,"CHINA MOBILE",{act}', "OK"]
    assert port.cmd("AT+CEREG?") == cereg


def test_creg_n2_shows_location(modem):
    emu, port = modem("sim7600")
    assert port.cmd("AT+CREG=2;+CREG?") == ['+CREG: 2,1,"1A2B","0C3D4E5F"', "OK"]


# -- calls -------------------------------------------------------------------------------

def test_incoming_call_rings_with_clip_until_answered_then_remote_hangup(modem):
    emu, port = modem("sim7600")
    assert port.cmd("AT+CLIP=1") == ["OK"]
    emu.incoming_call(CALLER)
    ring = ["RING", f'+CLIP: "{CALLER}",145,,,,0']
    assert [port.line() for _ in range(4)] == ring + ring          # repeated
    assert emu.call_state == "ringing"
    assert port.cmd("AT+CLCC")[-2:] == [f'+CLCC: 1,1,4,0,0,"{CALLER}",145', "OK"]
    lines = port.cmd("ATA")
    assert lines[-1] == "OK" and set(lines[:-1]) <= set(ring)      # a RING may cross ATA
    assert port.line() == "VOICE CALL: BEGIN"
    assert emu.call_state == "active"
    assert port.quiet(0.3) == b""                                   # no more RINGs
    emu.remote_hangup()
    assert_voice_call_end(port.line())
    assert port.line() == "NO CARRIER"
    assert emu.call_state == "idle"


@pytest.mark.parametrize("vendor, clip", [
    ("sim800", f'+CLIP: "{CALLER}",145,"",0,"",0'),
    ("ec25", '+CLIP: "02151082965",129,,,,0'),
])
def test_incoming_call_cring_and_vendor_clip(modem, vendor, clip):
    emu, port = modem(vendor)
    emu.ring_interval = 5.0
    assert port.cmd("AT+CRC=1;+CLIP=1") == ["OK"]
    number = CALLER if vendor == "sim800" else "02151082965"
    emu.incoming_call(number)
    assert [port.line(), port.line()] == ["+CRING: VOICE", clip]
    emu.remote_hangup()                                             # caller gives up
    assert port.line() == "NO CARRIER"
    assert port.cmd("ATA") == ["NO CARRIER"]                       # nothing to answer


def test_no_clip_without_at_clip(modem):
    emu, port = modem("sim800")
    emu.ring_interval = 5.0
    emu.incoming_call(CALLER)
    assert port.line() == "RING"
    assert port.quiet(0.1) == b""


def test_dial_alerting_remote_answer_and_clcc_states(modem):
    emu, port = modem("sim7600")
    emu.alert_delay = 10.0
    assert port.cmd("ATD10086;") == ["OK"]
    assert emu.dialled == ["10086"]
    assert port.cmd("AT+CLCC") == ['+CLCC: 1,0,2,0,0,"10086",129', "OK"]   # dialling
    emu.close()
    emu, port = modem("sim7600")
    assert port.cmd("ATD+8610086;") == ["OK"]
    wait_until(lambda: emu.call_state == "alerting")
    assert port.cmd("AT+CLCC") == ['+CLCC: 1,0,3,0,0,"+8610086",145', "OK"]
    emu.remote_answer()
    assert port.line() == "VOICE CALL: BEGIN"
    assert port.cmd("AT+CLCC") == ['+CLCC: 1,0,0,0,0,"+8610086",145', "OK"]
    hangup = port.cmd("AT+CHUP")
    assert hangup[1:] == ["OK"]
    assert_voice_call_end(hangup[0])
    assert emu.call_state == "idle"
    assert port.cmd("AT+CLCC") == ["OK"]


def test_dial_on_ec25_announces_nothing_but_clcc_urcs_when_asked(modem):
    emu, port = modem("ec25")
    assert port.cmd("AT+CLCC=1") == ["OK"]
    assert port.cmd("ATD10086;") == ["OK"]
    assert port.line() == '+CLCC: 1,0,2,0,0,"10086",129'
    assert port.line() == '+CLCC: 1,0,3,0,0,"10086",129'
    emu.remote_answer()
    assert port.line() == '+CLCC: 1,0,0,0,0,"10086",129'
    assert port.cmd("ATH") == ['+CLCC: 1,0,6,0,0,"10086",129', "OK"]
    with pytest.raises(EmulatorError):
        emu.remote_answer()


def test_dial_needs_a_free_line(modem):
    emu, port = modem("sim800")
    port.cmd("AT+CMEE=1")
    assert port.cmd("ATD10086;") == ["OK"]
    assert port.cmd("ATD10010;") == ["+CME ERROR: 3"]
    assert port.cmd("ATD10010") == ["ERROR"]                       # data call
    with pytest.raises(EmulatorError):
        emu.incoming_call(CALLER)                                   # no call waiting


def answered(emu: ModemEmulator, port: Port) -> None:
    emu.incoming_call(CALLER)
    assert port.line() == "RING"
    lines = port.cmd("ATA")
    assert lines[-1] == "OK"
    if emu.vendor == "sim7600":
        assert port.line() == "VOICE CALL: BEGIN"


@pytest.mark.parametrize("vendor, switch_on, urcs", [
    ("sim7600", None, ["+RXDTMF: 5", "+RXDTMF: #"]),
    ("sim800", "AT+DDET=1", ["+DTMF: 5", "+DTMF: #"]),
    ("ec25", "AT+QTONEDET=1", ["+QTONEDET: 53", "+QTONEDET: 35"]),
])
def test_dtmf_from_far_end_in_vendor_urc(modem, vendor, switch_on, urcs):
    emu, port = modem(vendor)
    answered(emu, port)
    if switch_on:
        emu.send_dtmf("5")                      # detection still off: nothing
        assert port.cmd("AT") == ["OK"]
        assert port.cmd(switch_on) == ["OK"]
    emu.send_dtmf("5#")
    assert [port.line(), port.line()] == urcs


def test_sim800_dtmf_with_key_length(modem):
    emu, port = modem("sim800")
    answered(emu, port)
    assert port.cmd("AT+DDET=1,0,1") == ["OK"]
    assert port.cmd("AT+DDET?") == ["+DDET: 1,0,1,0", "OK"]
    emu.send_dtmf("7", duration_ms=160)
    assert port.line() == "+DTMF: 7,160"
    with pytest.raises(ValueError):
        emu.send_dtmf("X")


def test_vts_digits_recorded_in_every_form(modem):
    emu, port = modem("sim7600")
    port.cmd("AT+CMEE=1")
    assert port.cmd("AT+VTS=1") == ["+CME ERROR: 3"]               # no call yet
    answered(emu, port)
    assert port.cmd("AT+VTS=1") == ["OK"]
    assert port.cmd('AT+VTS="2"') == ["OK"]
    assert port.cmd('AT+VTS="3,4,#"') == ["OK"]
    assert port.cmd("AT+VTS=5,10") == ["OK"]
    assert port.cmd('AT+VTS="x"') == ["+CME ERROR: 50"]
    assert emu.sent_dtmf == ["1", "2", "3", "4", "#", "5"]


def test_cpcmreg_only_on_sim7600_and_off_after_the_call(modem):
    emu, port = modem("sim7600")
    assert port.cmd("AT+CPCMREG=1") == ["ERROR"]       # no voice call to carry (CMEE off: plain ERROR)
    emu.incoming_call(CALLER)
    assert port.line() == "RING"
    assert port.cmd("AT+CPCMREG=1") == ["ERROR"]       # ringing, not connected yet
    assert port.cmd("ATA")[-1] == "OK"
    assert port.line() == "VOICE CALL: BEGIN"
    assert port.cmd("AT+CPCMREG=1") == ["OK"]
    assert emu.pcm_enabled
    assert port.cmd("AT+CPCMREG?") == ["+CPCMREG: 1", "OK"]
    emu.remote_hangup()
    assert_voice_call_end(port.line())
    assert port.line() == "NO CARRIER"
    assert not emu.pcm_enabled
    for vendor in ("sim800", "ec25"):
        other, other_port = modem(vendor)
        assert other_port.cmd("AT+CPCMREG=1") == ["ERROR"]
        assert not other.pcm_enabled


# -- voice over the SIM7600's PCM port ---------------------------------------------------------

FRAME = 320                                         # bytes per 20 ms, S16LE mono 8 kHz


def sine(hz: float, seconds: float, amplitude: int = 12000) -> bytes:
    n = int(8000 * seconds)
    return struct.pack(f"<{n}h", *(round(amplitude * math.sin(2 * math.pi * hz * i / 8000)) for i in range(n)))


def read_for(ser: serial.Serial, seconds: float) -> tuple[bytes, list[tuple[float, int]]]:
    """Everything arriving within `seconds`, and (arrival time, bytes so far) per read."""
    data, arrivals = bytearray(), []
    ser.timeout = 0.05
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        chunk = ser.read(max(1, ser.in_waiting))
        if chunk:
            data += chunk
            arrivals.append((time.monotonic(), len(data)))
    return bytes(data), arrivals


@pytest.fixture
def pcm_call(modem):
    """An answered SIM7600 call with its PCM port open (PCM not yet enabled)."""
    emu, port = modem("sim7600", pcm=True)
    pcm = serial.Serial(emu.pcm_path, timeout=0.2)
    answered(emu, port)
    yield emu, port, pcm
    pcm.close()


def test_pcm_caller_audio_arrives_byte_exact_at_20_ms_per_frame(pcm_call):
    emu, port, pcm = pcm_call
    assert pcm.read(FRAME) == b""                   # a call, but no AT+CPCMREG=1: nothing
    tone = sine(440, 1.0)
    emu.play_caller_audio(tone)
    assert port.cmd("AT+CPCMREG=1") == ["OK"]
    received, arrivals = read_for(pcm, 1.2)
    assert received.startswith(tone)                # byte-exact, from the first frame
    tail = received[len(tone):]
    assert len(tail) >= 5 * FRAME and tail == bytes(len(tail))      # then silence
    (t0, n0), (t1, n1) = arrivals[0], arrivals[-1]
    per_frame = (t1 - t0) / ((n1 - n0) / FRAME)     # the first read may hold a backlog
    assert 0.017 <= per_frame <= 0.023, f"{per_frame * 1000:.1f} ms per frame"


def test_pcm_captures_what_the_box_sends_only_while_streaming(pcm_call):
    emu, port, pcm = pcm_call
    pcm.write(bytes(640))                           # PCM not enabled: thrown away
    wait_until(lambda: emu.discarded_bytes == 640)
    assert port.cmd("AT+CPCMREG=1") == ["OK"]
    pattern = bytes(range(256)) * 10               # CR, LF, XON/XOFF, Ctrl-Z, 0xFF... all raw
    pcm.write(pattern)
    wait_until(lambda: len(emu.captured_audio) >= len(pattern))
    assert bytes(emu.captured_audio) == pattern
    assert port.cmd("AT+CPCMREG=0") == ["OK"]
    assert not emu.pcm_streaming
    pcm.write(b"\x01\x02" * 100)
    wait_until(lambda: emu.discarded_bytes == 840)
    assert bytes(emu.captured_audio) == pattern
    read_for(pcm, 0.05)                             # frames sent before CPCMREG=0
    assert pcm.read(FRAME) == b""


def test_pcm_stream_stops_when_the_far_end_hangs_up(pcm_call):
    emu, port, pcm = pcm_call
    assert port.cmd("AT+CPCMREG=1") == ["OK"]
    assert len(pcm.read(4 * FRAME)) == 4 * FRAME
    emu.remote_hangup()
    assert not emu.pcm_streaming and not emu.pcm_enabled
    sent = emu.pcm_frames_sent
    rest, _ = read_for(pcm, 0.1)
    assert 4 * FRAME + len(rest) == sent * FRAME    # whole frames, none lost
    assert pcm.read(FRAME) == b"" and emu.pcm_frames_sent == sent
    assert_voice_call_end(port.line())
    assert port.line() == "NO CARRIER"
    emu.play_caller_audio(sine(1000, 0.1))          # waits for the next call
    assert pcm.read(FRAME) == b""


def test_pcm_close_stops_the_stream_and_its_thread(modem):
    emu, port = modem("sim7600", pcm=True)
    answered(emu, port)
    assert port.cmd("AT+CPCMREG=1") == ["OK"]
    wait_until(lambda: emu.pcm_frames_sent > 0)
    thread = emu._pcm._thread
    emu.close()
    assert not emu.pcm_streaming and not thread.is_alive()
    emu.close()


def test_pcm_port_only_when_asked_and_only_on_sim7600():
    plain = ModemEmulator("sim7600")
    assert plain.pcm_path is None and plain.discarded_bytes == 0 and plain.captured_audio == b""
    with pytest.raises(EmulatorError):
        plain.play_caller_audio(bytes(FRAME))
    for vendor in ("sim800", "ec25"):
        with pytest.raises(ValueError):
            ModemEmulator(vendor, pcm=True)
    with ModemEmulator("sim7600", pcm=True) as emu:
        assert emu.pcm_path.startswith("/dev/") and emu.pcm_path != emu.path
        with pytest.raises(ValueError):
            emu.play_caller_audio(b"\x00\x01\x02")     # half a sample

# -- SMS -------------------------------------------------------------------------------------

def test_send_sms_gsm_text_with_prompt(modem):
    emu, port = modem("sim800")
    assert port.cmd("AT+CMGF=1") == ["OK"]
    assert port.cmd('AT+CSCS="GSM"') == ["OK"]
    port.send('AT+CMGS="+8613800138000"\r')
    assert port.ser.read(4) == b"\r\n> "
    port.send(b"Shop opens at 9\x1a")
    assert [port.line(), port.line()] == ["+CMGS: 1", "OK"]
    assert emu.sent_sms == [("+8613800138000", "Shop opens at 9")]


def test_send_sms_ucs2_chinese(modem):
    emu, port = modem("ec25")
    assert port.cmd('AT+CMGF=1;+CSCS="UCS2";+CSMP=17,167,0,8') == ["OK"]
    port.send(f'AT+CMGS="{ucs2("13800138000")}"\r')
    assert port.ser.read(4) == b"\r\n> "
    port.send(ucs2("你好").encode() + b"\x1a")
    assert [port.line(), port.line()] == ["+CMGS: 1", "OK"]
    assert emu.sent_sms == [("13800138000", "你好")]
    assert port.cmd('AT+CMGS="13800138000"') == ["ERROR"]          # not UCS2 hex


def test_send_sms_multiline_with_echo_and_escape_aborts(modem):
    emu, port = modem("sim7600", echo=True)
    assert port.cmd("AT+CMGF=1") == ["AT+CMGF=1", "OK"]
    port.send('AT+CMGS="10086"\r')
    assert port.ser.read(len('AT+CMGS="10086"\r') + 4) == b'AT+CMGS="10086"\r\r\n> '
    port.send(b"line one\rline two\x1a")
    assert port.ser.read(8 + 4 + 8) == b"line one\r\n> line two"
    assert [port.line(), port.line()] == ["+CMGS: 1", "OK"]
    port.send('AT+CMGS="10086"\r')
    port.ser.read(len('AT+CMGS="10086"\r') + 4)
    port.send(b"never mind\x1b")
    port.ser.read(len(b"never mind"))
    assert port.line() == "OK"
    assert emu.sent_sms == [("10086", "line one\nline two")]


def test_sms_needs_a_sim_in_either_mode(modem):
    emu, port = modem("sim7600", pin="1234")
    port.cmd("AT+CMEE=1")
    assert port.cmd("AT+CMGR=1") == ["+CMS ERROR: 311"]             # PDU mode
    assert port.cmd("AT+CMGF=1") == ["OK"]
    assert port.cmd("AT+CMGR=1") == ["+CMS ERROR: 311"]
    emu.close()
    emu, port = modem("sim7600")
    port.cmd("AT+CMEE=1")
    assert port.cmd("AT+CMGF?") == ["+CMGF: 0", "OK"]               # PDU mode is the default
    assert port.cmd("AT+CMGR=1") == ["+CMS ERROR: 321"]             # and works: slot 1 is empty


def test_receive_sms_cmti_cmgr_cmgl_cmgd(modem):
    emu, port = modem("sim7600")
    assert port.cmd("AT+CMGF=1;+CNMI=2,1,0,0,0") == ["OK"]
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC8)
    assert emu.deliver_sms(CALLER, "Is the shop open?", when=when) == 1
    assert port.line() == '+CMTI: "SM",1'
    header = f'"{CALLER}","","24/05/06,07:08:09+32"'
    assert port.cmd("AT+CMGR=1") == [f'+CMGR: "REC UNREAD",{header}', "Is the shop open?", "OK"]
    assert port.cmd("AT+CMGR=1") == [f'+CMGR: "REC READ",{header}', "Is the shop open?", "OK"]
    assert emu.deliver_sms("10086", "Balance 5", when=when) == 2
    assert port.line() == '+CMTI: "SM",2'
    assert port.cmd('AT+CMGL="ALL"') == [
        f'+CMGL: 1,"REC READ",{header}', "Is the shop open?",
        '+CMGL: 2,"REC UNREAD","10086","","24/05/06,07:08:09+32"', "Balance 5", "OK"]
    assert port.cmd('AT+CPMS="SM","SM","SM"') == ["+CPMS: 2,50,2,50,2,50", "OK"]
    assert port.cmd("AT+CMGD=1") == ["OK"]
    assert port.cmd("AT+CPMS?") == ['+CPMS: "SM",1,50,"SM",1,50,"SM",1,50', "OK"]
    assert port.cmd("AT+CMEE=1;+CMGR=1") == ["+CMS ERROR: 321"]
    assert port.cmd("AT+CMGD=1,4") == ["OK"]
    assert port.cmd('AT+CMGL="ALL"') == ["OK"]


def test_sim800_reads_an_empty_slot_as_ok(modem):
    emu, port = modem("sim800")
    assert port.cmd("AT+CMGF=1;+CMGR=3") == ["OK"]


def test_receive_sms_in_ucs2(modem):
    emu, port = modem("sim800")
    assert port.cmd('AT+CMGF=1;+CSCS="UCS2"') == ["OK"]
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC8)
    assert emu.deliver_sms("10086", "你好", when=when) == 1
    assert port.line() == '+CMTI: "SM",1'
    assert port.cmd("AT+CMGR=1") == [
        f'+CMGR: "REC UNREAD","{ucs2("10086")}","","24/05/06,07:08:09+32"', "4F60597D", "OK"]


def test_cnmi_mt2_routes_sms_directly(modem):
    emu, port = modem("ec25")
    assert port.cmd("AT+CMGF=1;+CNMI=2,2,0,0,0") == ["OK"]
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC8)
    assert emu.deliver_sms("10086", "hi", when=when) == 0
    assert [port.line(), port.line()] == ['+CMT: "10086","","24/05/06,07:08:09+32"', "hi"]


def test_full_sim_storage_loses_messages_silently(modem):
    emu, port = modem("sim7600")
    assert port.cmd("AT+CMGF=1;+CNMI=2,0,0,0,0") == ["OK"]           # no URC while filling
    assert [emu.deliver_sms("10086", f"n{i}") for i in range(50)] == list(range(1, 51))
    assert port.cmd("AT+CNMI=2,1,0,0,0") == ["OK"]
    assert emu.deliver_sms("10086", "one too many") == -1
    assert port.cmd("AT+CPMS?") == ['+CPMS: "SM",50,50,"SM",50,50,"SM",50,50', "OK"]  # no +CMTI
    assert port.cmd("AT+CMGD=7") == ["OK"]
    assert emu.deliver_sms("10086", "room again") == 7
    assert port.line() == '+CMTI: "SM",7'


# -- SMS in PDU mode ------------------------------------------------------------------------------
# Cross-checked against the driver's own PDU code (written separately).

SMSC_FIELD = "0891683108100005F0"           # +8613800100500: 8 octets, international
# The SMS-DELIVER example of "SMS messages and the PDU format" (Lars Pettersson,
# dreamfabric.com), without its service-centre field: "hellohello" from 27838890001.
HELLO_DELIVER = "040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"
# Its SMS-SUBMIT example, "hellohello" to +46708251358, after its "00"
# (no service centre given: the SIM's).
HELLO_SUBMIT = "11000B916407281553F80000AA0AE8329BFD4697D9EC37"


def send_pdu(port: Port, pdu_hex: str, length: int) -> list[str]:
    port.send(f"AT+CMGS={length}\r")
    assert port.ser.read(4) == b"\r\n> "
    port.send(pdu_hex.encode() + b"\x1a")
    first = port.line()
    return [first] if first.startswith("+CMS ERROR") else [first, port.line()]


def test_pdu_mode_shows_the_stored_pdu_and_text_mode_its_text(modem):
    emu, port = modem("sim7600")
    assert emu.deliver_pdu(HELLO_DELIVER) == 1
    assert port.line() == '+CMTI: "SM",1'
    length = len(HELLO_DELIVER) // 2
    assert port.cmd("AT+CMGR=1") == [f"+CMGR: 0,,{length}", SMSC_FIELD + HELLO_DELIVER, "OK"]
    assert port.cmd("AT+CMGR=1") == [f"+CMGR: 1,,{length}", SMSC_FIELD + HELLO_DELIVER, "OK"]
    assert port.cmd("AT+CMGL=4") == [f"+CMGL: 1,1,,{length}", SMSC_FIELD + HELLO_DELIVER, "OK"]
    assert port.cmd("AT+CMGL") == ["OK"]                                 # default: unread only
    assert port.cmd("AT+CMEE=1;+CMGL=\"ALL\"") == ["+CMS ERROR: 304"]   # text-mode argument
    assert port.cmd("AT+CMGL=?") == ["+CMGL: (0-4)", "OK"]
    assert port.cmd("AT+CMGF=1;+CMGR=1") == [
        '+CMGR: "REC READ","27838890001","","99/03/29,15:16:59+08"', "hellohello", "OK"]
    with pytest.raises(ValueError):
        emu.deliver_pdu(HELLO_SUBMIT)                                    # a SUBMIT is not delivered


def test_a_long_text_arrives_in_parts_each_announced(modem):
    emu, port = modem("ec25")
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC8)
    text = "Dear customer, " + "your order is ready [ref {42}] " * 10 + "€"
    assert emu.deliver_sms(CALLER, text, when=when, ref=0x33) == 1
    assert [port.line(), port.line(), port.line()] == ['+CMTI: "SM",1', '+CMTI: "SM",2', '+CMTI: "SM",3']
    lines = port.cmd("AT+CMGL=4")
    assert lines[-1] == "OK" and len(lines) == 7
    # Part 1: UDHI with more messages waiting (40), the caller, PID 0, 7-bit,
    # the time stamp, then (after the UDL) the header: ref 33, 3 parts, part 1.
    head = SMSC_FIELD + "40" + "0D91683108108300F0" + "0000" + "42506070809023"
    assert lines[1].startswith(head) and lines[1][len(head) + 2:].startswith("050003330301")
    parts = [decode_deliver(pdu) for pdu in lines[1:6:2]]
    assert [(p.concat.ref, p.concat.total, p.concat.seq) for p in parts] == [(0x33, 3, n) for n in (1, 2, 3)]
    assert [p.more_messages for p in parts] == [True, True, False]
    assert "".join(p.text for p in parts) == text
    # Text mode shows the part alone, its header invisible.
    assert port.cmd('AT+CMGF=1;+CSCS="UCS2";+CMGR=3')[-2:] == [ucs2(parts[2].text), "OK"]


def test_pdu_mode_sends_a_checked_pdu(modem):
    emu, port = modem("sim800")
    port.cmd("AT+CMEE=1")
    assert send_pdu(port, "00" + HELLO_SUBMIT, 23) == ["+CMGS: 1", "OK"]
    assert emu.sent_sms == [("+46708251358", "hellohello")]
    assert emu.sent_pdus == [HELLO_SUBMIT]
    assert send_pdu(port, "00" + HELLO_SUBMIT, 22) == ["+CMS ERROR: 304"]      # length wrong
    assert send_pdu(port, "00" + HELLO_SUBMIT[:-2], 22) == ["+CMS ERROR: 304"]  # text cut short
    assert send_pdu(port, "00ZZ", 1 + 6) == ["+CMS ERROR: 304"]                   # not hex
    deliver = "00" + HELLO_DELIVER
    assert send_pdu(port, deliver, len(HELLO_DELIVER) // 2) == ["+CMS ERROR: 304"]  # not a SUBMIT
    assert port.cmd("AT+CMGS=3") == ["+CMS ERROR: 304"]                          # too short for any
    assert emu.sent_sms == [("+46708251358", "hellohello")]


def test_a_long_text_sent_in_parts_is_delivered_once_all_went_out(modem):
    emu, port = modem("sim7600")
    text = "长文本测试，" * 30 + "😀"
    pdus = encode_submit("13800138000", text, ref=77)
    assert len(pdus) == 3
    for pdu in (pdus[2], pdus[0]):
        assert send_pdu(port, pdu.hex, pdu.tpdu_length)[0].startswith("+CMGS: ")
    assert emu.sent_sms == []
    send_pdu(port, pdus[1].hex, pdus[1].tpdu_length)
    assert emu.sent_sms == [("13800138000", text)]
    assert len(emu.sent_pdus) == 3


def test_cnmi_mt2_in_pdu_mode_shows_the_pdu(modem):
    emu, port = modem("sim7600")
    assert port.cmd("AT+CNMI=2,2,0,0,0") == ["OK"]
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC8)
    assert emu.deliver_sms("10086", "hi", when=when) == 0
    tpdu = "04" + "0581" + "0180F6" + "0000" + "42506070809023" + "02" + "E834"
    assert [port.line(), port.line()] == [f"+CMT: ,{len(tpdu) // 2}", SMSC_FIELD + tpdu]
    assert port.cmd("AT+CPMS?") == ['+CPMS: "SM",0,50,"SM",0,50,"SM",0,50', "OK"]


# -- misbehaviour ---------------------------------------------------------------------------------

def test_hang_swallows_commands_until_cured(modem):
    emu, port = modem("sim7600")
    emu.misbehave("hang")
    port.send("AT\r")
    assert port.quiet(0.3) == b""
    emu.incoming_call(CALLER)                                       # not even RING
    assert port.quiet(0.2) == b""
    assert emu.commands[-1] == "AT"
    emu.remote_hangup()
    emu.misbehave(None)
    assert port.cmd("AT") == ["OK"]


def test_garbage_answers_junk_and_never_a_result(modem):
    emu, port = modem("sim7600")
    emu.misbehave("garbage")
    port.send("AT+CSQ\r")
    junk = port.quiet(0.3)
    assert b"\xff" in junk and not junk.endswith(b"\r\n")          # half a line
    with pytest.raises(UnicodeDecodeError):
        junk.decode("utf-8")
    lines = [x.strip() for x in junk.split(b"\r\n")]
    assert not any(x in (b"OK", b"ERROR") for x in lines)
    emu.misbehave(None)
    assert port.cmd("AT")[-1] == "OK"          # the half line may prefix the first one


@pytest.mark.parametrize("vendor, boot", [
    ("sim7600", ["RDY", "+CPIN: READY", "SMS DONE", "PB DONE"]),
    ("sim800", ["RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready"]),
    ("ec25", ["RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"]),
])
def test_reboot_drops_state_and_emits_boot_urcs(modem, vendor, boot):
    emu, port = modem(vendor)
    port.cmd("AT+CMEE=1;+CMGF=1")
    emu.deliver_sms("10086", "kept on the SIM")
    port.line()
    answered(emu, port)
    emu.misbehave("reboot")
    assert [port.line() for _ in boot] == boot
    assert emu.call_state == "idle" and emu.mode is None
    assert port.cmd("AT") == ["AT", "OK"]                          # echo is back on
    assert port.cmd("AT+CMGF?") == ["AT+CMGF?", "+CMGF: 0", "OK"]
    assert port.cmd("AT+CMGF=1;+CMGR=1")[-2:] == ["kept on the SIM", "OK"]


def test_reboot_locks_the_sim_again(modem):
    emu, port = modem("sim800", pin="1234")
    port.cmd('AT+CPIN="1234"')
    assert [port.line() for _ in range(3)] == ["+CPIN: READY", "Call Ready", "SMS Ready"]
    emu.misbehave("reboot")
    assert [port.line() for _ in range(3)] == ["RDY", "+CFUN: 1", "+CPIN: SIM PIN"]
    assert port.quiet(0.1) == b""


def test_cfun_reset_reboots_after_ok(modem):
    emu, port = modem("ec25")
    assert port.cmd("AT+CFUN=1,1") == ["OK"]
    assert port.line() == "RDY"


def test_sim_missing(modem):
    emu, port = modem("sim7600")
    emu.misbehave("sim-missing")
    assert port.cmd("AT+CPIN?") == ["ERROR"]
    port.cmd("AT+CMEE=1")
    assert port.cmd("AT+CPIN?") == ["+CME ERROR: 10"]
    assert port.cmd("AT+CREG?") == ["+CREG: 0,0", "OK"]
    assert port.cmd("AT+CMGF=1;+CMGL") == ["+CMS ERROR: 310"]
    emu.misbehave(None)
    assert port.cmd("AT+CPIN?") == ["+CPIN: READY", "OK"]


def test_no_network(modem):
    emu, port = modem("ec25")
    port.cmd("AT+CMEE=1;+CREG=1")
    answered(emu, port)
    emu.misbehave("no-network")
    assert [port.line(), port.line()] == ["NO CARRIER", "+CREG: 2"]   # call lost
    assert port.cmd("AT+CREG?") == ["+CREG: 1,2", "OK"]
    assert port.cmd("AT+CEREG?") == ["+CEREG: 0,2", "OK"]
    assert port.cmd("AT+CSQ") == ["+CSQ: 99,99", "OK"]
    assert port.cmd("AT+COPS?") == ["+COPS: 0", "OK"]
    assert port.cmd("ATD10086;") == ["+CME ERROR: 30"]
    emu.incoming_call(CALLER)                                         # never arrives
    assert emu.call_state == "idle" and emu.deliver_sms("10086", "x") == -1
    emu.misbehave(None)
    assert port.line() == "+CREG: 1"


def test_slow_final_results(modem):
    emu, port = modem("sim800", echo=True)
    emu.misbehave("slow")
    start = time.monotonic()
    port.send("AT+CSQ\r")
    assert port.ser.read(7 + 15) == b"AT+CSQ\r\r\n+CSQ: 20,99\r\n"     # echo, info at once
    assert port.line() == "OK"
    assert time.monotonic() - start >= 0.3
    emu.misbehave(None)
    assert port.cmd("AT") == ["AT", "OK"]


def test_misbehave_rejects_unknown_modes():
    with pytest.raises(ValueError):
        ModemEmulator("sim7600").misbehave("explode")
    with pytest.raises(ValueError):
        ModemEmulator("sim900")


# -- lifecycle ---------------------------------------------------------------------------------------

def test_close_twice_stops_the_thread():
    emu = ModemEmulator("sim800")
    path = emu.start()
    thread = emu._thread
    assert thread.is_alive() and path.startswith("/dev/")
    with pytest.raises(EmulatorError):
        emu.start()
    emu.close()
    emu.close()
    assert not thread.is_alive()
    with pytest.raises(SmallPbxError):
        emu.start()


def test_context_manager():
    with ModemEmulator("ec25") as emu:
        port = Port(emu.path)
        assert port.cmd("AT") == ["AT", "OK"]
        port.close()
    assert not emu._thread.is_alive()
