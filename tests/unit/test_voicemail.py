import wave

import pytest

from firmware.errors import ConfigError
from firmware.records.voicemail import Voicemail, check_pin, hash_pin
from firmware.telephony.voicemail import (DeleteMessage, Finish, ListenSession, PlayMessage, PlayPrompt,
                                          StopPlayback)


def test_pin_hash_checks_and_refuses_weak_pins():
    stored = hash_pin("4827")
    assert check_pin(stored, "4827") and not check_pin(stored, "4828")
    assert "4827" not in stored
    assert not check_pin(None, "4827")
    for weak in ("1111", "1234", "987654", "12a4", "123"):
        with pytest.raises(ConfigError):
            hash_pin(weak)


def _session(ids=("m3", "m2", "m1")):
    return ListenSession(list(ids), check_pin=lambda pin: pin == "4827")


def test_listen_pin_then_messages_newest_first_with_keys():
    s = _session()
    assert s.start() == [PlayPrompt("vm-enter-pin")]
    for d in "4827":
        assert s.digit(d) == []
    assert s.digit("#") == [StopPlayback(), PlayPrompt("vm-count-3")]
    assert s.prompt_done() == [PlayMessage("m3")]
    assert s.prompt_done() == [PlayPrompt("vm-options")]
    assert s.digit("5") == [StopPlayback(), PlayMessage("m3")]
    assert s.digit("6") == [StopPlayback(), PlayMessage("m2")]
    assert s.digit("7") == [StopPlayback(), DeleteMessage("m2"), PlayPrompt("vm-deleted"), PlayMessage("m1")]
    assert s.digit("6") == [StopPlayback(), PlayPrompt("vm-no-more")]
    assert s.prompt_done() == [Finish("no more messages")]
    assert s.deleted == ["m2"]


def test_three_wrong_pins_end_the_call():
    s = _session()
    s.start()
    for _ in range(2):
        for d in "0000#":
            out = s.digit(d)
        assert out == [StopPlayback(), PlayPrompt("vm-wrong-pin"), PlayPrompt("vm-enter-pin")]
    for d in "9999#":
        out = s.digit(d)
    assert out == [StopPlayback(), Finish("wrong pin")]
    assert s.digit("1") == []


def _part(path, seconds):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x01\x00" * int(8000 * seconds))


def test_messages_are_kept_with_their_facts_and_short_ones_dropped(tmp_path):
    vm = Voicemail(tmp_path)
    part = vm.new_part("101", "13800000000", 1_800_000_000)
    _part(part, 3)
    msg = vm.finish(part, "13800000000", 1_800_000_000)
    assert msg.caller == "13800000000" and msg.seconds == 3.0 and not part.exists()
    short = vm.new_part("101", "x", 1_800_000_100)
    _part(short, 0.3)
    assert vm.finish(short, "x", 1_800_000_100) is None
    assert [m.id for m in vm.messages("101")] == [msg.id]
    assert vm.delete("101", msg.id) and vm.messages("101") == []


def test_a_message_cut_by_a_crash_is_kept(tmp_path):
    vm = Voicemail(tmp_path)
    part = vm.new_part("shop", "13900000000", 1_800_000_000)
    _part(part, 2)
    with open(part, "r+b") as f:   # sizes never written: the process died
        f.seek(40)
        f.write(b"\x00\x00\x00\x00")
    assert vm.recover() == 1
    [msg] = vm.messages("shop")
    assert msg.caller == "13900000000" and msg.seconds == 2.0
