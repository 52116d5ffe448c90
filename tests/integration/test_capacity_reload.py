"""The call limit and live reload.

The PyPI pjsua2 wheel has 4 call slots: four calls are carried, the fifth
is refused cleanly and logged, and the box keeps going. A config change
(reload) never drops a call in progress.
"""
import time

from audio import best_correlation, noise_signal, read_wav, write_wav
from conftest import finish_phone, run_cli, wait_for_event


def _wait_calls(box, count, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(box.status()["calls"]) == count:
            return
        time.sleep(0.2)
    raise AssertionError(f"expected {count} calls, status: {box.status()['calls']}")


def test_fifth_call_is_refused_cleanly(box):
    status = box.status()
    assert status["capacity"]["engine_limit"] == 4  # read from pjsua at start-up
    users = ["101", "102", "103", "101"]
    phones = [box.phone(u, "--call", f"sip:*43@{box.proxy}", "--duration", "12", background=True)
              for u in users]
    try:
        _wait_calls(box, 4)
        fifth = box.phone("102", "--call", f"sip:*43@{box.proxy}", "--wait", "10")
        code = fifth.last("done")["last_code"]
        assert code == 486, fifth.events
        assert not fifth.last("done")["answered"]
        assert len(box.status()["calls"]) == 4, "the fifth call disturbed the others"
        capacity = box.status()["capacity"]
        assert capacity["refused"] + capacity["refused_by_engine"] >= 1
        assert "refused" in box.log()
    finally:
        results = [finish_phone(p) for p in phones]
    assert all(r.last("done")["answered"] for r in results), [r.events for r in results]
    _wait_calls(box, 0)


def test_configured_limit_answers_busy(box):
    run_cli(box.data, "settings", "set", "max_calls", "1")
    try:
        first = box.phone("101", "--call", f"sip:*43@{box.proxy}", "--duration", "8", background=True)
        _wait_calls(box, 1)
        second = box.phone("102", "--call", f"sip:*43@{box.proxy}", "--wait", "10")
        assert second.last("done")["last_code"] == 486, second.events
        assert "refused 486: all 1 call slots in use" in box.log()
        assert finish_phone(first).last("done")["answered"]
    finally:
        run_cli(box.data, "settings", "set", "max_calls", "none")
    assert box.status()["capacity"]["limit"] == 4


def test_reload_keeps_calls_and_new_extension_registers(box, tmp_path):
    sent = write_wav(tmp_path / "sent.wav", noise_signal(6, seed=8))
    heard = tmp_path / "heard.wav"
    phone = box.phone("101", "--call", f"sip:*43@{box.proxy}", "--play", str(sent), "--record",
                      str(heard), "--duration", "7", background=True)
    wait_for_event(phone, "media")
    added = run_cli(box.data, "extension", "add", "150", "--name", "Dan", "--password", "Dan-pass-42k")
    assert "reloaded" in added.stdout
    box.passwords["150"] = "Dan-pass-42k"
    new_phone = box.phone("150", "--no-register", "--call", f"sip:*43@{box.proxy}", "--duration", "1")
    assert new_phone.last("done")["answered"], new_phone.events
    result = finish_phone(phone)
    done = result.last("done")
    assert done["answered"] and done["last_code"] == 200, result.events
    recorded = read_wav(heard)
    assert len(recorded) > 6.5 * 8000, "the call was cut short by the reload"
    # The echo carried on after the reload: the last seconds still match.
    assert best_correlation(read_wav(sent)[4 * 8000:], recorded[3 * 8000:])[0] > 0.7
    run_cli(box.data, "extension", "remove", "150")
    gone = box.phone("150", "--no-register", "--call", f"sip:*43@{box.proxy}", "--wait", "8")
    assert gone.last("done")["last_code"] == 407
