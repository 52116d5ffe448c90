import json

import pytest

from firmware.config import extensions
from firmware.config.schema import validate
from firmware.config.store import ConfigStore
from firmware.errors import ConfigError
from firmware.fsutil import TEMP_PREFIX
from firmware.proxy.kamailio import ha1


@pytest.fixture
def store(tmp_path):
    return ConfigStore(tmp_path).open()


def test_new_store_has_default_settings(store):
    assert store.settings() == {"realm": "smallpbx", "language": "en", "max_calls": None, "flood_limit": 16,
                                "core_call_rate": 10, "recording_keep_days": 90,
                                "recording_max_mb": 2048, "panel_display": "oled",
                                "panel_pins": {"line1": 5, "line2": 6, "agents": 13, "waiting": 19,
                                               "fault": 26, "button": 21},
                                "alert_sms_to": "", "alert_email_to": "", "smtp_server": "", "smtp_from": "",
                                "alert_hold_s": 300}


def test_extension_keeps_only_digests(store):
    password = extensions.add(store, "101", "Alice")
    assert len(password) == 16
    raw = store.path.read_text()
    assert password not in raw
    ext = extensions.get(store, "101")
    assert ext["ha1"] == ha1("101", "smallpbx", password)


@pytest.mark.parametrize("number,name,password,field", [
    ("1", "x", "Good-pass-123", "extensions.1.number"),
    ("0101", "x", "Good-pass-123", "extensions.0101.number"),
    ("*43", "x", "Good-pass-123", "extensions.*43.number"),
    ("101", "a\nb", "Good-pass-123", "extensions.101.name"),
    ("101", "x" * 65, "Good-pass-123", "extensions.101.name"),
    ("101", 'say "hi"', "Good-pass-123", "extensions.101.name"),
    ("101", "x", "short", "extensions.101.password"),
    ("101", "x", "abc101defgh", "extensions.101.password"),
    ("101", "x", "aaaaaaaaaaaa", "extensions.101.password"),
    ("101", "x", "has space in it", "extensions.101.password"),
])
def test_bad_extension_fields_are_named_and_nothing_is_saved(store, number, name, password, field):
    before = store.path.read_bytes()
    with pytest.raises(ConfigError) as err:
        extensions.add(store, number, name, password)
    assert err.value.field == field
    assert store.path.read_bytes() == before


def test_duplicate_and_missing_extensions(store):
    extensions.add(store, "101", "A", "Good-pass-123")
    with pytest.raises(ConfigError, match="exists already"):
        extensions.add(store, "101", "B", "Good-pass-456")
    with pytest.raises(ConfigError, match="no such extension"):
        extensions.remove(store, "109")
    with pytest.raises(ConfigError, match="no such extension"):
        extensions.set_password(store, "109", "Good-pass-789")


def test_password_change_changes_digest(store):
    extensions.add(store, "101", "A", "Good-pass-123")
    old = extensions.get(store, "101")["ha1"]
    extensions.set_password(store, "101", "Other-pass-456")
    assert extensions.get(store, "101")["ha1"] == ha1("101", "smallpbx", "Other-pass-456") != old


@pytest.mark.parametrize("changes,field", [
    ({"language": "fr"}, "settings.language"),
    ({"max_calls": 0}, "settings.max_calls"),
    ({"max_calls": "4"}, "settings.max_calls"),
    ({"max_calls": True}, "settings.max_calls"),
    ({"realm": "bad realm"}, "settings.realm"),
    ({"flood_limit": 1}, "settings.flood_limit"),
    ({"core_call_rate": 0}, "settings.core_call_rate"),
    ({"panel_display": "crt"}, "settings.panel_display"),
    ({"panel_pins": {"agents": 40}}, "settings.panel_pins.agents"),
    ({"panel_pins": {"agents": 5, "line1": 5}}, "settings.panel_pins.line1"),
    ({"panel_pins": {"fault": 2}}, "settings.panel_pins.fault"),
    ({"panel_pins": {"horn": 7}}, "settings.panel_pins.horn"),
    ({"colour": "red"}, "settings.colour"),
])
def test_bad_settings_are_refused_by_field_and_old_config_kept(store, changes, field):
    before = store.path.read_bytes()
    with pytest.raises(ConfigError) as err:
        store.update_settings(**changes)
    assert err.value.field == field
    assert store.path.read_bytes() == before


def test_a_tampered_document_is_refused_whole():
    with pytest.raises(ConfigError) as err:
        validate({"settings": {}, "extensions": {"1": {"number": "101", "name": "", "ha1": "zz", "ha1b": "zz"}}})
    assert err.value.field == "extensions.101.ha1"
    with pytest.raises(ConfigError):
        validate({"trunks": {}})


def test_open_sweeps_temp_files_of_killed_writers(tmp_path):
    ConfigStore(tmp_path).open()
    leftover = tmp_path / f"{TEMP_PREFIX}config.json.12345"
    leftover.write_text("{half")
    ConfigStore(tmp_path).open()
    assert not leftover.exists()
    json.loads((tmp_path / "config.json").read_text())
