"""GSM line checks for a technician with a real box, a SIM and a test phone.

Real box: set SMALLPBX_HIL=1, SMALLPBX_MODEM_PORT (e.g. /dev/ttyUSB2),
SMALLPBX_MODEM_VENDOR (sim7600, sim800, ec25), SMALLPBX_TEST_NUMBER (the
phone in your hand) and SMALLPBX_SIM_PIN if the SIM has one, then run
``.venv/bin/python -m pytest hil-tests -s`` and do what each step prints.
Without SMALLPBX_HIL the emulated modem plays the SIM network and the
test phone, so these steps run in CI too. The audio level check needs the
SIM7600's PCM port: set SMALLPBX_MODEM_PCM_PORT (e.g. /dev/ttyUSB4).
"""
import array
import math
import os
import queue
import time

import pytest

from firmware.hw.modem.gsm import DtmfReceived, GsmModem, IncomingCall, SmsReceived
from firmware.hw.modem.supervisor import LineSupervisor

HIL = os.environ.get("SMALLPBX_HIL") == "1"
VENDOR = os.environ.get("SMALLPBX_MODEM_VENDOR", "sim7600")
TEST_NUMBER = os.environ.get("SMALLPBX_TEST_NUMBER", "13800138000")
PERSON_WAIT_S = 90 if HIL else 30      # the wait ends as soon as it happens


PCM_PORT = os.environ.get("SMALLPBX_MODEM_PCM_PORT")


@pytest.fixture
def rig():
    """(modem, far_end, events); far_end is the emulator, or None on a real box."""
    if HIL:
        port = os.environ.get("SMALLPBX_MODEM_PORT")
        if not port or not os.path.exists(port):
            pytest.skip("SMALLPBX_MODEM_PORT does not name a serial device on this box")
        far_end, path = None, port
    else:
        from firmware.sim.modem_emulator import ModemEmulator
        far_end = ModemEmulator(VENDOR, pcm=VENDOR == "sim7600")
        far_end.ring_interval = 0.3
        path = far_end.start()
    events = queue.Queue()
    modem = GsmModem(path, vendor=VENDOR, pin=os.environ.get("SMALLPBX_SIM_PIN"), on_event=events.put)
    modem.start()
    yield modem, far_end, events, path
    modem.close()
    if far_end is not None:
        far_end.close()


def wait_for(events, kind):
    deadline = time.monotonic() + PERSON_WAIT_S
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=1)
        except queue.Empty:
            continue
        if isinstance(event, kind):
            return event
    pytest.fail(f"no {kind.__name__} within {PERSON_WAIT_S} s")


def test_identity_signal_and_sim(rig):
    modem, _, _, _ = rig
    model = " ".join(modem.at("AT+CGMM"))
    print(f"modem: {model}; signal {modem.signal_dbm()} dBm")
    assert model.strip()
    assert modem.sim_state() == "ready"
    assert modem.registered(), "not registered on the network"
    dbm = modem.signal_dbm()
    assert dbm is not None and dbm > -109, "signal too weak to rely on"


def test_call_into_the_box_with_dtmf(rig):
    modem, far_end, events, _ = rig
    print(f"call the box's SIM from {TEST_NUMBER} now")
    if far_end:
        far_end.incoming_call(TEST_NUMBER)
    call = wait_for(events, IncomingCall)
    assert call.number.endswith(TEST_NUMBER[-8:])
    modem.answer()
    print("press 5 on your phone")
    if far_end:
        far_end.send_dtmf("5")
    assert wait_for(events, DtmfReceived).digit == "5"
    modem.send_dtmf("1")  # the technician hears a tone
    modem.hang_up()


def test_sms_both_ways(rig):
    modem, far_end, events, _ = rig
    modem.send_sms(TEST_NUMBER, "SmallPBX 测试 test: please reply OK")
    if far_end:
        assert far_end.sent_sms[-1][1] == "SmallPBX 测试 test: please reply OK"
        far_end.deliver_sms(TEST_NUMBER, "OK")
    print(f"reply 'OK' from {TEST_NUMBER}")
    sms = wait_for(events, SmsReceived)
    assert sms.text.strip().upper().startswith("OK")


def test_reset_and_recovery(rig):
    modem, far_end, events, path = rig
    modem.close()  # the supervisor owns the line from here
    sup = LineSupervisor(lambda: GsmModem(path, vendor=VENDOR, pin=os.environ.get("SMALLPBX_SIM_PIN")),
                         on_state=lambda s, d: print(f"line: {s} {d}"), ping_timeout=3)
    try:
        assert sup.check() == "up"
        sup.modem.at("AT+CFUN=1,1", 5)  # the module reboots
        deadline = time.monotonic() + (90 if HIL else 10)
        state = sup.state
        while time.monotonic() < deadline:
            time.sleep(2 if HIL else 0.3)
            state = sup.check()
            if state == "up" and sup.modem is not None and sup.modem.at("AT", 3) == []:
                break
        assert state == "up", f"the line did not come back: {state}"
    finally:
        sup.close()


def _tone(seconds: float, dbfs: float, hz: float = 1000.0) -> bytes:
    amplitude = 32767 * 10 ** (dbfs / 20)
    return array.array("h", (int(amplitude * math.sin(2 * math.pi * hz * n / 8000))
                             for n in range(int(seconds * 8000)))).tobytes()


def _dbfs(data: bytes) -> float:
    samples = array.array("h", data[: len(data) - len(data) % 2])
    rms = math.sqrt(sum(x * x for x in samples) / max(1, len(samples)))
    return 20 * math.log10(max(rms, 1e-3) / 32767)


def test_audio_levels_both_ways(rig):
    """The line's voice reaches the box at a usable level, and the box's reaches the line."""
    from firmware.core.ringbuffer import AudioRing
    from firmware.lines.pcm_pump import SerialPcmPump
    modem, far_end, events, _ = rig
    if VENDOR != "sim7600":
        pytest.skip(f"{VENDOR}: voice is not on a PCM serial port (it needs the sound card path)")
    pcm_port = far_end.pcm_path if far_end else PCM_PORT
    if not pcm_port or not os.path.exists(pcm_port):
        pytest.skip("SMALLPBX_MODEM_PCM_PORT does not name the modem's PCM port")
    to_pbx, from_pbx = AudioRing(max_ms=4000), AudioRing(max_ms=4000)
    pump = SerialPcmPump(pcm_port, to_pbx, from_pbx)
    pump.start()
    try:
        print(f"call the box's SIM from {TEST_NUMBER}, then hum or speak steadily for 3 s")
        if far_end:
            far_end.incoming_call(TEST_NUMBER)
        wait_for(events, IncomingCall)
        modem.answer()
        from_pbx.write(_tone(2.0, -12))            # the caller should hear a 1 kHz tone
        if far_end:
            far_end.play_caller_audio(_tone(2.0, -12))
        if far_end:        # 2 s of the stream each way, however late it started
            deadline = time.monotonic() + 15
            while (to_pbx.level_ms() < 2000 or len(far_end.captured_audio) < 2 * 16000) \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            time.sleep(3.0)
        heard = to_pbx.read(int(2.0 * 16000))
        level = _dbfs(heard)
        print(f"line -> box level {level:.1f} dBFS")
        if far_end:
            assert abs(level - (-12 - 3)) < 2.0, level   # a sine's RMS is 3 dB under its peak
            sent = _dbfs(bytes(far_end.captured_audio)[: int(2.0 * 16000)])
            print(f"box -> line level {sent:.1f} dBFS")
            assert abs(sent - (-15)) < 2.0, sent
        else:
            assert level > -45, "almost nothing came from the line: check the PCM port and AT+CPCMREG"
        modem.hang_up()
    finally:
        pump.close()
