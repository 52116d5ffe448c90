import os
import shutil
import subprocess

import pytest

from firmware.proxy import kamailio
from firmware.proxy.kamailio import ProxyError, ProxySettings


def settings(tmp_path, **kw):
    base = dict(sip_bind="127.0.0.1", sip_port=5060, internal_port=5071, core_port=5070,
                realm="smallpbx", run_dir=tmp_path / "run")
    base.update(kw)
    return ProxySettings(**base)


def test_render_fills_every_placeholder(tmp_path):
    text = kamailio.render_config(settings(tmp_path), "s3cret")
    assert "{{" not in text
    assert "listen=udp:127.0.0.1:5060" in text
    assert "listen=udp:127.0.0.1:5071" in text
    assert 'auth_check("smallpbx"' in text
    assert "/etc/kamailio" not in text


def test_render_refuses_values_that_would_break_the_cfg(tmp_path):
    with pytest.raises(ProxyError):
        kamailio.render_config(settings(tmp_path, realm='x";exit;"'), "s")


@pytest.mark.skipif(not (shutil.which("kamailio") or os.path.exists("/usr/sbin/kamailio")),
                    reason="kamailio not installed")
def test_generated_cfg_passes_kamailio_check(tmp_path):
    s = settings(tmp_path)
    kamailio.prepare(s, [])
    kamailio.check_config(s)


def test_credentials_table_and_new_mtime_on_change(tmp_path):
    db = tmp_path / "db"
    ext = {"number": "101", "ha1": "a" * 32, "ha1b": "b" * 32}
    kamailio.write_credentials(db, [ext])
    table = (db / "subscriber").read_text().splitlines()
    assert table[1] == f"1:101::{'a' * 32}:{'b' * 32}"
    first = (db / "subscriber").stat().st_mtime
    kamailio.write_credentials(db, [ext])  # unchanged: not rewritten
    assert (db / "subscriber").stat().st_mtime == first
    kamailio.write_credentials(db, [ext, {"number": "102", "ha1": "c" * 32, "ha1b": "d" * 32}])
    # Rewritten in the same second: the mtime still moves on (db_text reloads on it).
    assert int((db / "subscriber").stat().st_mtime) > int(first)


def test_ha1_matches_rfc2617():
    # RFC 2617 3.5 example: Mufasa / testrealm@host.com / Circle Of Life
    assert kamailio.ha1("Mufasa", "testrealm@host.com", "Circle Of Life") == "939e7578ed9e3c518a452acee763bce9"
