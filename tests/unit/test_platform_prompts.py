import wave

from firmware.core import prompts
from firmware.hw.platform import detect_platform


def test_a_pi_is_detected_by_its_device_tree(tmp_path):
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert detect_platform(model, env={}).simulated is False
    assert detect_platform(model, env={"SMALLPBX_HARDWARE": "simulated"}).simulated is True
    assert detect_platform(tmp_path / "missing", env={}).simulated is True


def test_default_prompts_are_8k_mono_and_made_once(tmp_path):
    made = prompts.ensure_default_prompts(tmp_path)
    assert {p.parent.name for p in made} == {"en", "zh_CN"}
    for path in made:
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            if path.stem != "beep":
                assert w.getnframes() > 8000  # more than a second of speech
    assert prompts.ensure_default_prompts(tmp_path) == []


def test_tones_stand_in_when_speech_is_impossible(tmp_path, monkeypatch):
    monkeypatch.setattr(prompts.shutil, "which", lambda _name: None)
    made = prompts.ensure_default_prompts(tmp_path)
    with wave.open(str(made[0])) as w:
        assert w.getframerate() == 8000 and w.getnframes() == 3 * (8000 // 3 + 8000 // 6)


def test_an_uploaded_prompt_is_converted_and_replaces_the_default(tmp_path):
    import shutil as _shutil
    import subprocess

    import pytest

    from firmware.errors import ConfigError
    if not _shutil.which("sox"):
        pytest.skip("sox missing")
    source = tmp_path / "my greeting.mp3"
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", str(source), "synth", "1.5", "sine", "440"], check=True)
    out = prompts.install_custom_prompt(tmp_path / "prompts", "welcome", "zh_CN", source)
    assert out == tmp_path / "prompts" / "custom" / "zh_CN" / "welcome.wav"
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert abs(w.getnframes() - 12000) < 400
    for name, lang, src, field in [("../../etc/x", "en", source, "prompt.name"),
                                   ("welcome", "fr", source, "prompt.language"),
                                   ("welcome", "en", tmp_path / "missing.wav", "prompt.file")]:
        with pytest.raises(ConfigError) as err:
            prompts.install_custom_prompt(tmp_path / "prompts", name, lang, src)
        assert err.value.field == field
    bad = tmp_path / "-evil.wav"
    bad.write_text("not audio")
    with pytest.raises(ConfigError) as err:
        prompts.install_custom_prompt(tmp_path / "prompts", "welcome", "en", bad)
    assert err.value.field == "prompt.file"
