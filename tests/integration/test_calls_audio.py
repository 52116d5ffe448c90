"""Calls with real audio through Kamailio and the core.

Each phone is a separate pjsua2 process. Audio is proven by correlating
what one side recorded with the unique signal the other side played.
"""
import time
import wave

from audio import best_correlation, heard, noise_signal, read_wav, write_wav
from boxtools import finish_phone, wait_for_event

UNRELATED = 0.3  # two different noise signals: ~0.05


def test_echo_test_returns_callers_audio(box, tmp_path):
    sent = write_wav(tmp_path / "sent.wav", noise_signal(6, seed=1))
    heard_path = tmp_path / "heard.wav"
    result = box.phone("101", "--call", f"sip:*43@{box.proxy}", "--play", str(sent),
                       "--record", str(heard_path), "--duration", "6.5")
    assert result.last("done")["answered"], result.events
    ok, peaks = heard(read_wav(sent), read_wav(heard_path))
    assert ok, f"echo not heard back: {peaks}"
    _, lag = best_correlation(read_wav(sent), read_wav(heard_path))
    assert 0 < lag < 0.5, f"echo delay {lag:.3f} s is implausible"
    other = noise_signal(6, seed=99)
    assert best_correlation(other, read_wav(heard_path))[0] < UNRELATED


def test_playback_test_plays_the_prompt(box, tmp_path):
    heard_path = tmp_path / "heard.wav"
    result = box.phone("102", "--call", f"sip:*44@{box.proxy}", "--record", str(heard_path), "--duration", "30")
    done = result.last("done")
    assert done["answered"], result.events
    prompt = box.data / "prompts" / "en" / "playback-test.wav"
    with wave.open(str(prompt)) as w:
        prompt_seconds = w.getnframes() / w.getframerate()
    recorded = read_wav(heard_path)
    # The box hangs up by itself after the prompt: the call lasted about as long.
    assert abs(len(recorded) / 8000 - prompt_seconds) < 2.0
    # Speech has pauses, so one 2 s stretch of it is correlated whole.
    # Searched from 0.3 s early: the recording may start a moment after the box began to play.
    peak, _ = best_correlation(read_wav(prompt)[8000: 8000 * 3], recorded[8000 - 2400:], max_lag_s=1.3)
    assert peak > 0.7, f"prompt not heard: correlation {peak:.2f}"


def test_phone_to_phone_audio_both_ways(box, tmp_path):
    sig_a, sig_b = noise_signal(6, seed=11), noise_signal(6, seed=22)
    a_play, b_play = write_wav(tmp_path / "a.wav", sig_a), write_wav(tmp_path / "b.wav", sig_b)
    a_heard, b_heard = tmp_path / "a_heard.wav", tmp_path / "b_heard.wav"
    callee = box.phone("103", "--answer", "--play", str(b_play), "--record", str(b_heard),
                       "--duration", "15", "--wait", "20", background=True)
    wait_for_event(callee, "ready")
    calls_before = box.status()["calls"]
    caller = box.phone("101", "--call", f"sip:103@{box.proxy}", "--play", str(a_play),
                       "--record", str(a_heard), "--duration", "6.5")
    callee_result = finish_phone(callee)
    assert caller.last("done")["answered"], caller.events
    assert callee_result.last("done")["answered"], callee_result.events
    assert calls_before == []
    a_got = read_wav(a_heard)
    b_got = read_wav(b_heard)
    ok, peaks = heard(sig_b, a_got)
    assert ok, f"caller did not hear the callee: {peaks}"
    ok, peaks = heard(sig_a, b_got)
    assert ok, f"callee did not hear the caller: {peaks}"
    assert best_correlation(sig_a, a_got)[0] < UNRELATED, "caller heard itself, not the callee"


def test_core_calls_a_phone_and_audio_flows(box, tmp_path):
    sent = write_wav(tmp_path / "sent.wav", noise_signal(6, seed=5))
    heard_path = tmp_path / "heard.wav"
    phone = box.phone("102", "--answer", "--play", str(sent), "--record", str(heard_path),
                      "--duration", "6.5", "--wait", "20", background=True)
    wait_for_event(phone, "ready")
    out = box.cli("call", "102", "--app", "echo").stdout
    assert "calling 102" in out
    result = finish_phone(phone)
    assert result.last("done")["answered"], result.events
    ok, peaks = heard(read_wav(sent), read_wav(heard_path))
    assert ok, f"phone did not hear its echo from the core: {peaks}"


def test_calling_an_unregistered_extension_is_unavailable(box):
    # 103 exists but no phone is registered for it right now.
    result = box.phone("101", "--call", f"sip:103@{box.proxy}", "--wait", "10")
    assert result.last("done")["last_code"] == 480, result.events


def test_unknown_number_is_not_found(box):
    result = box.phone("101", "--call", f"sip:*999@{box.proxy}", "--wait", "10")
    assert result.last("done")["last_code"] == 404, result.events
    time.sleep(0.2)
    assert box.status()["calls"] == []


def test_an_uploaded_prompt_is_what_callers_hear(box, tmp_path):
    own = noise_signal(6, seed=61)
    upload = write_wav(tmp_path / "own.wav", own)
    box.cli("prompt", "set", "playback-test", str(upload))
    try:
        heard_path = tmp_path / "heard.wav"
        result = box.phone("101", "--call", f"sip:*44@{box.proxy}", "--record", str(heard_path), "--duration", "12")
        assert result.last("done")["answered"]
        ok, peaks = heard(own, read_wav(heard_path))
        assert ok, peaks
    finally:
        box.cli("prompt", "reset", "playback-test")
