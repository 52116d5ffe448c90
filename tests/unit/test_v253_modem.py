"""The V.253 voice modem driver (the FXO line) against the emulated modem on
a pty, and its pure parts: DLE shielding and the sample formats."""
import os
import queue
import struct
import sys
import time
from datetime import datetime

import numpy as np
import pytest

from firmware.core.ringbuffer import AudioRing
from firmware.hw.modem.at import CommandError, ModemError, ModemTimeout
from firmware.hw.modem.v253 import (FORMATS, CallAnswered, CallEnded, DleDecoder, DtmfReceived, IncomingCall,
                                    LineSignal, LineState, VoiceModem, choose_format, shield, ulaw_decode_sample,
                                    ulaw_encode_sample)
from firmware.sim import v253_voice
from firmware.sim.v253_emulator import V253Emulator
from firmware.sim.v253_voice import ROCKWELL_COMPRESSIONS, ULAW_COMPRESSIONS, USR_COMPRESSIONS

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from audio import heard, noise_signal  # noqa: E402  (tests/audio.py)

PROFILES = {  # the best format each modem family offers
    "s16": USR_COMPRESSIONS,
    "ulaw": ULAW_COMPRESSIONS,
    "u8": ROCKWELL_COMPRESSIONS,
}


def pcm(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def floats(data: bytes) -> np.ndarray:
    return np.frombuffer(bytes(data[:len(data) // 2 * 2]), dtype="<i2").astype(np.float64) / 32768.0


def s16(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}h", *values)


@pytest.fixture
def rig():
    """rig(emulator kwargs..., modem=dict(...)) -> (modem, emulator, events, to_pbx, from_pbx)."""
    made = []

    def make(modem=None, start=True, **emu_kw):
        emu = V253Emulator(**emu_kw)
        emu.ring_interval = 0.2
        emu.answer_delay = 0.2
        emu.busy_interval = 0.3
        emu.tone_time = 0.02
        path = emu.start()
        events = queue.Queue()
        to_pbx, from_pbx = AudioRing(max_ms=10000), AudioRing(max_ms=10000)
        kw = dict(timeout=1.0, ring_timeout=1.0, to_pbx=to_pbx, from_pbx=from_pbx)
        kw.update(modem or {})
        driver = VoiceModem(path, on_event=events.put, **kw)
        made.append((driver, emu))
        if start:
            driver.start()
        return driver, emu, events, to_pbx, from_pbx
    yield make
    for driver, emu in made:
        driver.close()
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


def no_event(events, kind, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return
        assert not isinstance(event, kind), event


def wait_until(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def in_call(rig, **kw):
    """A rig with an answered incoming call."""
    driver, emu, events, to_pbx, from_pbx = rig(**kw)
    emu.incoming_call("5551234", "ALICE")
    next_event(events, IncomingCall)
    driver.answer()
    next_event(events, CallAnswered)
    return driver, emu, events, to_pbx, from_pbx


# -- pure: DLE shielding ---------------------------------------------------------------

def test_dle_decoder_separates_samples_events_and_the_end_in_any_chunking():
    stream = (b"\x01\x10\x10\x02" b"\x105" b"\x10\x1a" b"\x10#\x10b" b"\x03\x04" b"\x10/\x109\x10~"
              b"\x10\x03" b"\r\nOK\r\n")
    samples, events, rest = DleDecoder().feed(stream)
    assert samples == b"\x01\x10\x02\x10\x10\x03\x04"    # DLE DLE is one 0x10, DLE SUB two
    assert events == ["5", "#", "b", "/", "9", "~"]
    assert rest == b"\r\nOK\r\n"
    for cut in range(1, len(stream)):                     # a DLE may end a read
        decoder = DleDecoder()
        a = decoder.feed(stream[:cut])
        if a[2] is not None:                              # the end came in the first part
            assert (a[0], a[1], a[2] + stream[cut:]) == (samples, events, rest)
            continue
        b = decoder.feed(stream[cut:])
        assert (a[0] + b[0], a[1] + b[1], b[2]) == (samples, events, rest)


def test_in_the_transmit_state_plain_text_ends_the_data():
    decoder = DleDecoder(audio=False)
    assert decoder.feed(b"\x105\x10d") == (b"", ["5", "d"], None)
    assert decoder.feed(b"\r\nOK\r\n") == (b"", [], b"\r\nOK\r\n")


def test_shielding_round_trips_every_byte():
    data = bytes(range(256)) * 3 + b"\x10\x10\x10\x03"
    wire = shield(data)
    assert wire.count(b"\x10") == 2 * data.count(b"\x10")
    assert DleDecoder().feed(wire + b"\x10\x03") == (data, [], b"")
    # and the emulator's own parser of the DTE's data agrees
    samples, codes, ender, rest = v253_voice.DteStream("^").feed(wire + b"\x10^AT\r")
    assert (samples, codes, ender, rest) == (data, [], "^", b"AT\r")


# -- pure: sample formats ----------------------------------------------------------------

def test_linear_8_bit_formats_are_the_high_byte():
    assert FORMATS["u8"].encode(s16(0, -32768, 32767, 256, -256)) == bytes([0x80, 0x00, 0xFF, 0x81, 0x7F])
    assert FORMATS["s8"].encode(s16(0, -32768, 32767, 256, -256)) == bytes([0x00, 0x80, 0x7F, 0x01, 0xFF])
    exact = s16(*range(-32768, 32768, 256))
    for name in ("u8", "s8"):
        fmt = FORMATS[name]
        assert fmt.decode(fmt.encode(exact)) == exact
        assert v253_voice.decode(name, fmt.encode(exact)) == exact
        assert v253_voice.encode(name, exact) == fmt.encode(exact)


def test_ulaw_matches_g711_and_the_emulators_own_implementation():
    # G.711 reference points: silence is 0xFF, the extremes 0x80 / 0x00.
    assert ulaw_encode_sample(0) == 0xFF and ulaw_encode_sample(32767) == 0x80
    assert ulaw_encode_sample(-32768) == 0x00 and ulaw_encode_sample(-1) == 0x7F
    assert ulaw_decode_sample(0x80) == 32124 and ulaw_decode_sample(0x00) == -32124
    assert ulaw_decode_sample(0xFF) == 0 and ulaw_decode_sample(0x7F) == 0
    codes = bytes(c for c in range(256) if c != 0x7F)    # 0x7F: "-0" comes back as 0xFF
    fmt = FORMATS["ulaw"]
    assert fmt.encode(fmt.decode(codes)) == codes
    every = s16(*range(-32768, 32768))
    assert fmt.encode(every) == v253_voice.encode("ulaw", every)
    assert fmt.decode(bytes(range(256))) == v253_voice.decode("ulaw", bytes(range(256)))
    levels = struct.unpack("<128h", fmt.decode(bytes(range(0x80, 0x100))))
    assert list(levels) == sorted(levels, reverse=True)   # monotonic


def test_the_best_8_khz_format_is_chosen_from_vsm_lines():
    assert choose_format([c.line for c in USR_COMPRESSIONS]) == (133, FORMATS["s16"])
    assert choose_format([c.line for c in ULAW_COMPRESSIONS]) == (131, FORMATS["ulaw"])
    assert choose_format([c.line for c in ROCKWELL_COMPRESSIONS]) == (1, FORMATS["u8"])
    assert choose_format(['+VSM: 4,"G.711U",8,0,(8000-11025),0,0', '0,"SIGNED PCM",8,0,8000,0,0']) \
        == (4, FORMATS["ulaw"])
    assert choose_format(['133,"LINEAR",16,0,(7200,11025),(0),(0)', '140,"2 Bit ADPCM",2,0,8000,0,0']) is None
    assert choose_format([]) is None


# -- the driver against the emulator ------------------------------------------------------

@pytest.mark.parametrize("kind, cid", [("s16", "+VCID"), ("ulaw", "#CID"), ("u8", "+VCID")])
def test_init_sets_voice_mode_caller_id_and_the_best_format(rig, kind, cid):
    driver, emu, events, *_ = rig(compressions=PROFILES[kind], cid=cid)
    assert next_event(events, LineState).state == "up"
    assert driver.format is FORMATS[kind] and emu.format == kind
    assert emu.commands[emu.commands.index("ATZ"):][:4] == ["ATZ", "ATE0", "AT+FCLASS=8", "AT+VCID=1"]
    assert ("AT#CID=1" in emu.commands) == (cid == "#CID")
    assert emu.commands[-1] == f"AT+VSM={driver.compression},8000"


@pytest.mark.parametrize("spaced, before_ring", [(False, False), (True, False), (False, True)])
def test_caller_id_number_name_date_and_time(rig, spaced, before_ring):
    driver, emu, events, *_ = rig(cid_spaced=spaced, cid_before_ring=before_ring)
    emu.incoming_call("13800138000", "WANG LI", when=datetime(2024, 3, 21, 14, 5))
    assert next_event(events, IncomingCall, timeout=0.15).number == "13800138000"   # before RING 2
    cid = driver.caller_id
    assert (cid.number, cid.name, cid.date, cid.time, cid.withheld) == ("13800138000", "WANG LI", "0321", "1405", "")
    assert driver.ringing and not driver.in_call


@pytest.mark.parametrize("withheld", ["private", "unavailable"])
def test_a_withheld_number_arrives_as_empty_with_the_reason(rig, withheld):
    driver, emu, events, *_ = rig()
    emu.incoming_call("", withheld=withheld)
    assert next_event(events, IncomingCall).number == ""
    assert driver.caller_id.withheld == withheld and driver.caller_id.name == ""


def test_a_number_without_a_name_is_announced_at_the_second_ring(rig):
    driver, emu, events, *_ = rig()
    emu.incoming_call("5550100")
    t0 = time.monotonic()
    assert next_event(events, IncomingCall).number == "5550100"
    assert time.monotonic() - t0 >= 0.15                   # waited for RING 2 (0.2 s later)


def test_a_caller_who_gives_up_ringing_is_a_missed_call(rig):
    driver, emu, events, *_ = rig(modem=dict(ring_timeout=0.5))
    emu.incoming_call("5550101", "BOB")
    next_event(events, IncomingCall)
    emu.remote_hangup()
    assert next_event(events, CallEnded, timeout=3).reason == "missed"
    assert not driver.ringing


@pytest.mark.parametrize("kind", ["s16", "ulaw", "u8"])
def test_answer_then_audio_both_ways_and_dtmf(rig, kind):
    driver, emu, events, to_pbx, from_pbx = in_call(rig, compressions=PROFILES[kind])
    assert emu.off_hook and emu.data_state == "vtr" and driver.streaming == "vtr"
    assert emu.commands[-2:] == ["AT+VLS=1", "AT+VTR"]
    caller, box = noise_signal(2.0, seed=1), noise_signal(2.0, seed=2)
    emu.play_caller_audio(pcm(caller))
    from_pbx.write(pcm(box))
    emu.send_dtmf("5")
    emu.send_dtmf("#")
    assert next_event(events, DtmfReceived).digit == "5"
    assert next_event(events, DtmfReceived).digit == "#"
    wait_until(lambda: len(emu.captured_audio) >= len(pcm(box)) + 3200, timeout=4)
    ok, peaks = heard(caller, floats(to_pbx.read(int(to_pbx.level_ms() * 16))))
    assert ok, f"the box did not hear the caller: {peaks}"
    ok, peaks = heard(box, floats(emu.captured_audio))
    assert ok, f"the caller did not hear the box: {peaks}"
    assert not heard(caller, floats(emu.captured_audio))[0]   # no echo of the caller back to him


def test_the_box_sends_at_the_modems_clock_not_its_own(rig):
    driver, emu, events, *_ = rig()
    emu.clock_error = 0.2                                     # this modem's 8 kHz runs 20 % fast
    emu.incoming_call("5551234", "ALICE")
    next_event(events, IncomingCall)
    t0 = time.monotonic()
    driver.answer()
    time.sleep(1.5)
    driver.hang_up()
    elapsed = time.monotonic() - t0
    assert emu.samples_sent > 1.1 * 8000 * elapsed           # the fast clock did run fast
    # One frame back per frame received, plus the 2 primed; the frames in
    # flight when the data ended go unanswered.
    sent_back = len(emu.captured_audio) // 2
    assert 0 <= emu.samples_sent + 320 - sent_back <= 5 * 160


@pytest.mark.parametrize("kind", ["s16", "ulaw", "u8"])
def test_dle_bytes_inside_the_samples_survive_both_ways(rig, kind):
    driver, emu, events, to_pbx, from_pbx = in_call(rig, compressions=PROFILES[kind])
    # Samples whose wire bytes are 0x10 and that the format carries exactly.
    if kind == "s16":
        tricky = s16(0x1010, 0x0010, 0x1000, -0x10F0, 0x7F10, 0x1003)
    else:
        tricky = FORMATS[kind].decode(b"\x10\x10\x03\x10")
        assert FORMATS[kind].encode(tricky) == b"\x10\x10\x03\x10"
    block = (tricky * 400)[:3200]
    emu.play_caller_audio(block)
    from_pbx.write(block)
    wait_until(lambda: block in bytes(emu.captured_audio), timeout=3)
    wait_until(lambda: to_pbx.level_ms() >= 300)
    assert block in to_pbx.read(int(to_pbx.level_ms() * 16))
    assert emu.dle_pairs_sent >= 400 and emu.dle_pairs_received >= 400
    assert driver.streaming == "vtr" and driver.in_call     # no 0x10 was taken for a code


@pytest.mark.parametrize("signal, reason", [("b", "busy"), ("d", "dial-tone"), ("l", "loop-break")])
def test_the_far_end_hanging_up_ends_the_call_and_the_line_goes_on_hook(rig, signal, reason):
    driver, emu, events, *_ = in_call(rig)
    emu.remote_hangup(signal)
    assert next_event(events, LineSignal).signal == reason
    assert next_event(events, CallEnded).reason == reason
    assert not driver.in_call and driver.streaming is None
    wait_until(lambda: not emu.off_hook)
    assert "^" in emu.dte_codes and emu.commands[-1] == "AT+VLS=0"


@pytest.mark.parametrize("modem_reports, reason", [(True, "quiet"), (False, "silence")])
def test_silence_ends_the_call_when_configured(rig, modem_reports, reason):
    driver, emu, events, *_ = in_call(rig, silence_detection=modem_reports,
                                      modem=dict(silence_timeout=0.5))
    assert "AT+VSD=128,5" in emu.commands                    # refused when modem_reports is False
    emu.play_caller_audio(pcm(noise_signal(0.5, seed=3)))   # speech, then nothing
    t0 = time.monotonic()
    assert next_event(events, CallEnded, timeout=4).reason == reason
    assert time.monotonic() - t0 >= 0.5
    wait_until(lambda: not emu.off_hook)


def test_silence_alone_does_not_end_a_call_by_default(rig):
    driver, emu, events, *_ = in_call(rig)
    emu.remote_hangup(None)                                   # the far end left without a tone
    no_event(events, CallEnded, 0.6)
    assert driver.in_call


def test_hanging_up_leaves_voice_data_then_goes_on_hook_silently(rig):
    driver, emu, events, *_ = in_call(rig)
    driver.hang_up()
    assert emu.dte_codes == ["^"] and emu.data_state is None
    assert emu.commands[-1] == "AT+VLS=0" and not emu.off_hook and emu.call_state == "idle"
    assert not driver.in_call
    no_event(events, CallEnded, 0.3)                         # like a GSM line: ours is not reported
    driver.hang_up()                                          # twice is harmless


@pytest.mark.parametrize("vcon", [False, True])
def test_dial_out_answered_then_dtmf_then_hang_up(rig, vcon):
    driver, emu, events, to_pbx, from_pbx = rig(vcon=vcon)
    driver.dial("5550123")
    assert emu.dialled == ["5550123"] and emu.commands[-2:] == ["ATDT5550123", "AT+VTR"]
    assert isinstance(next_event(events, CallAnswered), CallAnswered)
    assert emu.call_state == "connected" and driver.streaming == "vtr"
    driver.send_dtmf("12#")
    assert emu.sent_dtmf == ["1", "2", "#"] and emu.commands[-2:] == ["AT+VTS=1,2,#", "AT+VTR"]
    assert driver.streaming == "vtr" and emu.data_state == "vtr"     # audio resumed
    emu.send_dtmf("7")
    assert next_event(events, DtmfReceived).digit == "7"
    driver.hang_up()
    assert emu.call_state == "idle"


@pytest.mark.parametrize("outcome, code", [("busy", "BUSY"), ("no-answer", "NO ANSWER")])
def test_dial_out_refused(rig, outcome, code):
    driver, emu, events, *_ = rig()
    emu.dial_outcome = outcome
    with pytest.raises(CommandError) as err:
        driver.dial("5550124")
    assert err.value.code == code
    assert next_event(events, CallEnded).reason == code.lower()
    assert not driver.in_call and not emu.off_hook


def test_nothing_unchecked_reaches_the_modem(rig):
    driver, emu, events, *_ = rig()
    for bad in ("5550123;ATH", "+8613800138000", "", "1" * 40, "555 0123"):
        with pytest.raises(ValueError):
            driver.dial(bad)
    with pytest.raises(ValueError):
        driver.send_dtmf("5;")
    assert not emu.dialled


def test_a_half_duplex_modem_listens_then_talks(rig):
    driver, emu, events, to_pbx, from_pbx = in_call(rig, duplex=False)
    assert driver.duplex is False and emu.data_state == "vrx"
    assert emu.commands[-3:] == ["AT+VLS=1", "AT+VTR", "AT+VRX"]
    caller = noise_signal(1.5, seed=4)
    emu.play_caller_audio(pcm(caller))
    wait_until(lambda: to_pbx.level_ms() >= 1500, timeout=3)
    assert heard(caller, floats(to_pbx.read(int(to_pbx.level_ms() * 16))))[0]
    box = noise_signal(1.5, seed=5)
    from_pbx.write(pcm(box))
    driver.set_direction("talk")
    assert emu.data_state == "vtx" and "!" in emu.dte_codes
    emu.send_dtmf("3")                                        # events still come while talking
    assert next_event(events, DtmfReceived).digit == "3"
    wait_until(lambda: len(emu.captured_audio) >= len(pcm(box)), timeout=4)
    assert heard(box, floats(emu.captured_audio))[0]
    driver.hang_up()
    assert emu.dte_codes[-1] == "\x03" and not emu.off_hook


def test_voice_data_the_modem_ends_on_its_own_is_started_again(rig):
    driver, emu, events, *_ = in_call(rig)
    emu.leave_data_state()
    wait_until(lambda: emu.commands.count("AT+VTR") == 2 and emu.data_state == "vtr")
    emu.send_dtmf("9")
    assert next_event(events, DtmfReceived).digit == "9"
    assert driver.in_call


def test_garbage_never_crashes_the_driver(rig):
    driver, emu, events, *_ = in_call(rig)
    emu.misbehave("garbage")                                  # junk inside the voice data
    time.sleep(0.3)
    emu.misbehave(None)
    emu.send_dtmf("4")
    assert next_event(events, DtmfReceived).digit == "4"
    driver.hang_up()
    emu.misbehave("garbage")                                  # junk answers to commands
    with pytest.raises(ModemTimeout):
        driver.at("AT+VLS?", timeout=0.5)
    emu.misbehave(None)
    assert driver.at("AT+VLS?") == ["0"]
    emu.incoming_call("5550111", "CAROL")
    assert next_event(events, IncomingCall).number == "5550111"


def test_a_hung_modem_times_out_with_a_clear_error(rig):
    driver, emu, events, *_ = rig(start=False, modem=dict(timeout=0.5))
    emu.misbehave("hang")
    with pytest.raises(ModemTimeout, match=r"^AT: no answer within"):
        driver.start(init_timeout=0.6)
    emu.misbehave(None)
    driver.init(1.0)
    emu.incoming_call("5550112", "DAVE")
    next_event(events, IncomingCall)
    emu.misbehave("hang")
    with pytest.raises(ModemTimeout, match=r"AT\+VLS=1: no answer within 0.5 s"):
        driver.answer()
    assert not driver.in_call and emu.commands[-1] == "AT+VLS=1"


def test_a_modem_that_hangs_mid_call_still_gets_a_hang_up_attempt(rig, caplog):
    driver, emu, events, *_ = in_call(rig, modem=dict(timeout=0.5))
    emu.misbehave("hang")
    with pytest.raises(ModemTimeout, match=r"AT\+VLS=0"):     # tried, after leaving data by force
        driver.hang_up()
    assert "dropping DTR" in caplog.text
    assert not driver.in_call and driver.streaming is None


def test_a_vanished_modem_is_an_error_not_a_crash(rig):
    driver, emu, events, *_ = in_call(rig)
    emu.misbehave("vanish")
    with pytest.raises(ModemError):
        driver.hang_up()
    t0 = time.monotonic()
    driver.close()
    assert time.monotonic() - t0 < 3
