"""The smallpbx command, run as a user would (a subprocess)."""
import json

from boxtools import run_cli


def test_extension_lifecycle(tmp_path):
    data = tmp_path / "data"
    out = run_cli(data, "extension", "add", "101", "--name", "Alice").stdout
    password = out.split("SIP password:")[1].split()[0]
    assert len(password) == 16
    run_cli(data, "extension", "add", "102", "--name", "店员", "--password", "Bob-pass-7yz")
    listing = run_cli(data, "extension", "list").stdout
    assert "101  Alice" in listing and "102  店员" in listing
    shown = json.loads(run_cli(data, "extension", "show", "101").stdout)
    assert shown["name"] == "Alice" and "ha1" not in shown
    new = run_cli(data, "extension", "passwd", "101").stdout
    assert "new SIP password for 101" in new and password not in new
    run_cli(data, "extension", "remove", "101")
    assert "101" not in run_cli(data, "extension", "list").stdout


def test_bad_input_names_the_field_and_keeps_config(tmp_path):
    data = tmp_path / "data"
    run_cli(data, "extension", "add", "101", "--password", "Alice-pass-9x")
    before = (data / "config.json").read_bytes()
    for args, field in [
        (("extension", "add", "1x1"), "extensions.1x1.number"),
        (("extension", "add", "105", "--password", "short"), "extensions.105.password"),
        (("settings", "set", "language", "klingon"), "settings.language"),
        (("settings", "set", "max_calls", "-3"), "settings.max_calls"),
        (("settings", "set", "realm", "other"), "settings.realm"),
    ]:
        result = run_cli(data, *args, check=False)
        assert result.returncode == 2, args
        assert result.stderr.startswith(f"error: {field}:"), result.stderr
    assert (data / "config.json").read_bytes() == before


def test_status_without_a_running_box_says_so(tmp_path):
    result = run_cli(tmp_path / "data", "status", check=False)
    assert result.returncode == 1
    assert "not reachable" in result.stderr
