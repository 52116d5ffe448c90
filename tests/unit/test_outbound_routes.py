"""Outbound routes: Asterisk-style patterns, who may dial what, strip/prepend."""
import pytest

from firmware.config import lines as lines_config
from firmware.errors import ConfigError
from firmware.telephony.outbound import OutboundRoute, matches, plan


@pytest.mark.parametrize("pattern,number,expected", [
    ("_1[3-9]XXXXXXXXX", "13800138000", True),
    ("_1[3-9]XXXXXXXXX", "12800138000", False),     # 12x is not a mobile prefix
    ("_1[3-9]XXXXXXXXX", "1380013800", False),      # one digit short
    ("_9.", "9", False),                             # '.' needs at least one more
    ("_9.", "901234", True),
    ("_9!", "9", True),
    ("_NXXXXXX", "2345678", True),
    ("_NXXXXXX", "1345678", False),
    ("_ZX", "10", True),
    ("_ZX", "01", False),
    ("110", "110", True),
    ("110", "1100", False),
    ("_+86X.", "+8613800138000", True),
])
def test_patterns(pattern, number, expected):
    assert matches(pattern, number) is expected


@pytest.mark.parametrize("bad", ["_", "_1[3-", "_1Q", "12a", "_[a-z]"])
def test_malformed_patterns_are_refused(bad):
    with pytest.raises(ValueError):
        matches(bad, "1")


ROUTES = [
    OutboundRoute("emergency", ("110", "119", "120"), ("gsm1", "gsm2")),
    OutboundRoute("mobile", ("_91[3-9]XXXXXXXXX",), ("gsm2", "gsm1"), extensions=("101",), strip=1),
    OutboundRoute("intl", ("_00X.",), ("gsm1",), extensions=("101",), strip=2, prepend="+"),
]


def test_first_matching_route_that_admits_the_caller_wins():
    p = plan(ROUTES, "102", "110")
    assert (p.route, p.number, p.lines) == ("emergency", "110", ("gsm1", "gsm2"))
    p = plan(ROUTES, "101", "913800138000")
    assert (p.route, p.number, p.lines) == ("mobile", "13800138000", ("gsm2", "gsm1"))
    assert plan(ROUTES, "101", "0044201234567").number == "+44201234567"


def test_extension_not_admitted_or_no_route_gets_no_plan():
    assert plan(ROUTES, "102", "913800138000") is None
    assert plan(ROUTES, "101", "5555") is None


def _doc(lines=None, outbound=None):
    ext = {"number": "101", "name": "", "ha1": "0" * 32, "ha1b": "0" * 32}
    return {"extensions": {"1": ext}, "lines": {str(i): r for i, r in enumerate(lines or [], 1)},
            "outbound_routes": {str(i): r for i, r in enumerate(outbound or [], 1)}}


GOOD_LINE = {"id": "gsm1", "device": "/dev/ttyUSB2", "vendor": "sim7600", "route": "600"}


def test_a_good_line_and_route_build_with_defaults():
    cfg = lines_config.build(_doc([GOOD_LINE], [{"id": "all", "patterns": ["_X."], "lines": ["gsm1"]}]), {"600"})
    assert cfg.lines["gsm1"]["kind"] == "gsm" and cfg.lines["gsm1"]["enabled"] is True
    assert cfg.outbound[0].extensions == ("*",)


@pytest.mark.parametrize("change,field", [
    ({"id": "GSM 1"}, "lines.?.id"),
    ({"device": "/etc/passwd; rm -rf /"}, "lines.gsm1.device"),
    ({"device": "COM3"}, "lines.gsm1.device"),
    ({"vendor": "huawei"}, "lines.gsm1.vendor"),
    ({"pin": "12"}, "lines.gsm1.pin"),
    ({"route": "999"}, "lines.gsm1.route"),
    ({"power_pin": 40}, "lines.gsm1.power_pin"),
    ({"colour": "red"}, "lines.gsm1.colour"),
    ({"rx_gain_db": 40}, "lines.gsm1.rx_gain_db"),
    ({"tx_gain_db": "loud"}, "lines.gsm1.tx_gain_db"),
    ({"sound_device": "USB Audio", "pcm_device": "/dev/ttyUSB4"}, "lines.gsm1.sound_device"),
    ({"sound_device": "bad\nname"}, "lines.gsm1.sound_device"),
])
def test_bad_line_fields_are_named(change, field):
    with pytest.raises(ConfigError) as err:
        lines_config.build(_doc([{**GOOD_LINE, **change}]), {"600"})
    assert err.value.field == field


@pytest.mark.parametrize("route,field", [
    ({"id": "r", "patterns": [], "lines": ["gsm1"]}, "outbound_routes.r.patterns"),
    ({"id": "r", "patterns": ["_1Q"], "lines": ["gsm1"]}, "outbound_routes.r.patterns.0"),
    ({"id": "r", "patterns": ["_X."], "lines": ["fxo9"]}, "outbound_routes.r.lines"),
    ({"id": "r", "patterns": ["_X."], "lines": ["gsm1"], "extensions": ["555"]}, "outbound_routes.r.extensions"),
    ({"id": "r", "patterns": ["_X."], "lines": ["gsm1"], "prepend": "+86;"}, "outbound_routes.r.prepend"),
])
def test_bad_outbound_route_fields_are_named(route, field):
    with pytest.raises(ConfigError) as err:
        lines_config.build(_doc([GOOD_LINE], [route]), {"600"})
    assert err.value.field == field


@pytest.mark.parametrize("change,field", [
    ({"password": ""}, "lines.t1.password"),                 # never register without authentication
    ({"server": "sip provider"}, "lines.t1.server"),
    ({"username": "a b"}, "lines.t1.username"),
    ({"register": False, "server": "gw.example"}, "lines.t1.allow_from"),
    ({"expires": 5}, "lines.t1.expires"),
    ({"device": "/dev/ttyUSB0"}, "lines.t1.device"),
])
def test_bad_trunk_fields_are_named(change, field):
    trunk = {"id": "t1", "kind": "sip", "server": "sip.example.com:5060", "username": "shop",
             "password": "s3cret-pass", "route": "600"}
    with pytest.raises(ConfigError) as err:
        lines_config.build(_doc([{**trunk, **change}]), {"600"})
    assert err.value.field == field


def test_fxo_gateway_peer_needs_no_password():
    gw = {"id": "fxo", "kind": "sip", "server": "192.168.1.50", "username": "shop", "register": False, "route": "600"}
    assert lines_config.build(_doc([gw]), {"600"}).lines["fxo"]["register"] is False


def test_two_lines_on_one_device_are_refused():
    with pytest.raises(ConfigError, match="same device"):
        lines_config.build(_doc([GOOD_LINE, {**GOOD_LINE, "id": "gsm2"}]), {"600"})
