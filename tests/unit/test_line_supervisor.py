"""Self-healing against the emulated modem: each fault noticed and recovered."""
import os
import time

import pytest

from firmware.hw.modem.at import ModemError
from firmware.hw.modem.gsm import GsmModem
from firmware.hw.modem.supervisor import LineSupervisor
from firmware.hw.pins import MockFactory
from firmware.sim.modem_emulator import ModemEmulator


@pytest.fixture
def line():
    emu = ModemEmulator("sim7600")
    emu.ring_interval = 0.3
    path = emu.start()
    states = []
    power = MockFactory().pin(24)
    sup = LineSupervisor(lambda: GsmModem(path, vendor="sim7600"), on_state=lambda s, d: states.append(s),
                         power_pin=power, ping_timeout=0.6)
    yield sup, emu, states, power
    sup.close()
    emu.close()


def test_a_healthy_line_is_up_after_the_first_check(line):
    sup, emu, states, _ = line
    assert sup.check() == "up" and states == ["up"]
    assert sup.check() == "up" and states == ["up"]     # no news is no event


def test_a_hanging_modem_escalates_reopen_reset_then_power_and_comes_back(line):
    sup, emu, states, power = line
    sup.check()
    assert sup.modem.wait_idle()
    emu.misbehave("hang")
    assert sup.check() == "up"                 # one missed ping is not a fault yet
    sup.check()                                # the second is: ~23 s at 10 s checks
    assert states[-2:] == ["unresponsive", "down"]   # and reopening it did not help
    assert sup.actions == ["reopen"]
    for _ in range(4):
        sup.check()
        if "power-cycle" in sup.actions:
            break
    assert sup.actions[0] == "reopen" and sup.actions[-1] == "power-cycle"
    assert [lvl for _, lvl in power.states] == [True, False]
    emu.misbehave(None)                         # the power cycle cured it
    for _ in range(3):
        if sup.check() == "up":
            break
    assert sup.state == "up" and states[0] == "up" and "unresponsive" in states


def test_a_call_in_progress_is_not_cut_for_one_slow_ping(line):
    sup, emu, states, _ = line
    sup.check()
    assert sup.modem.wait_idle()
    emu.incoming_call("13800138000")
    sup.modem.answer()
    emu.misbehave("hang")
    sup.check()
    sup.check()
    assert sup.actions == [] and sup.state == "up"   # two misses during a call: wait
    sup.check()
    assert sup.actions == ["reopen"]                 # three: the modem is dead, call or not


def test_sim_missing_and_no_network_are_reported_not_reset(line):
    sup, emu, states, _ = line
    sup.check()
    emu.misbehave("sim-missing")
    assert sup.check() == "sim-missing"
    emu.misbehave("no-network")
    assert sup.check() == "no-network"
    emu.misbehave(None)
    assert sup.check() == "up"
    assert sup.actions == [] and states == ["up", "sim-missing", "no-network", "up"]


def test_a_vanished_device_is_down_until_it_returns(tmp_path):
    states = []
    missing = str(tmp_path / "ttyUSB2")
    sup = LineSupervisor(lambda: GsmModem(missing, vendor="sim7600"), on_state=lambda s, d: states.append(s),
                         ping_timeout=0.6)
    assert sup.check() == "down"
    emu = ModemEmulator("sim7600")
    path = emu.start()
    try:
        os.symlink(path, missing)             # the USB modem re-enumerated
        assert sup.check() == "up" and states == ["down", "up"]
    finally:
        sup.close()
        emu.close()


def test_a_modem_talking_garbage_is_unresponsive_then_recovers(line):
    sup, emu, states, _ = line
    sup.check()
    assert sup.modem.wait_idle()
    emu.misbehave("garbage")                    # junk and half lines, never a result code
    for _ in range(3):
        sup.check()
    assert "unresponsive" in states
    emu.misbehave(None)
    for _ in range(6):
        if sup.check() == "up":
            break
    assert sup.state == "up" and sup.modem.at("AT", 1) == []


def test_a_modem_that_reboots_by_itself_is_set_up_again(line):
    sup, emu, states, _ = line
    sup.check()
    assert sup.modem.wait_idle()
    emu.misbehave("reboot")                     # settings lost; boot URCs follow
    # Caller ID reports were part of the init the reboot wiped: the driver
    # runs its init again on the boot URC, so they come back.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        sup.modem.wait_idle(1)
        try:
            if " ".join(sup.modem.at("AT+CLIP?", 1)).startswith("+CLIP: 1"):
                break
        except ModemError:
            pass                                # still booting
        time.sleep(0.1)
    assert " ".join(sup.modem.at("AT+CLIP?", 1)).startswith("+CLIP: 1")
    assert sup.check() == "up" and sup.actions == []


def test_a_slow_but_working_modem_is_not_declared_dead(line):
    sup, emu, states, _ = line
    sup.check()
    emu.slow_delay = 0.3                        # every answer late, but within the ping time
    emu.misbehave("slow")
    for _ in range(3):
        assert sup.check() == "up"
    assert states == ["up"] and sup.actions == []
