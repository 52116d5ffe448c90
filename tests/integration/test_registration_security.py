"""Registration and the edge: digest auth, no user enumeration, no bypass.

SIPp registers with the right password; a raw client (which lets the test
see every header byte) sends the variants whose answers must be identical.
"""
import re
import subprocess
import time
from pathlib import Path

import pytest

from sipclient import RawSipClient

SIPP_DIR = Path(__file__).resolve().parent.parent / "sipp"


def sipp_register(box, user, password, tmp_path, local_ip="127.0.3.1"):
    users = tmp_path / "users.csv"
    users.write_text(f"SEQUENTIAL\n{user};[authentication username={user} password={password}]\n")
    return subprocess.run(
        ["sipp", "-sf", str(SIPP_DIR / "register.xml"), "-inf", str(users), "-m", "1",
         "-i", local_ip, "-p", "0", "-timeout", "10s", "-timeout_error", "-nostdin",
         "-trace_err", "-error_file", str(tmp_path / "sipp_err.log"), box.proxy],
        capture_output=True, text=True, timeout=30, cwd=tmp_path)


def test_sipp_registers_with_the_right_password(box, tmp_path):
    result = sipp_register(box, "101", box.passwords["101"], tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    regs = box.status()["registrations"]
    assert any(r["user"] == "101" and "127.0.3.1" in r["contact"] for r in regs), regs


def test_sipp_with_a_wrong_password_is_not_registered(box, tmp_path):
    result = sipp_register(box, "102", "not-the-password", tmp_path, local_ip="127.0.3.2")
    assert result.returncode != 0
    assert not any("127.0.3.2" in r["contact"] for r in box.status()["registrations"])


def _normalised(response, user):
    """Headers with the values that must differ per request blanked out."""
    out = []
    for key, value in response.headers:
        value = value.replace(f"sip:{user}@", "sip:USER@")
        value = re.sub(r'nonce="[^"]*"', 'nonce="N"', value)
        value = re.sub(r";received=[^;]*|;rport=\d+|;branch=[^;]*", "", value)
        value = re.sub(r";tag=[0-9a-f.\-]+$", ";tag=T", value) if key.lower() == "to" else value
        out.append((key, value))
    return response.status, response.reason, out


def test_unknown_user_wrong_password_wrong_realm_get_identical_challenges(box):
    server = ("127.0.0.1", box.sip_port)
    ruri = f"sip:127.0.0.1:{box.sip_port}"
    answers = {}
    with RawSipClient(server, local_ip="127.0.4.1") as c:
        first = c.exchange(c.request("REGISTER", ruri, "101"))
        assert first.status == 401
        answers["known user, no credentials"] = _normalised(first, "101")

        auth = c.authorization(first, "REGISTER", ruri, "101", "wrong-password")
        answers["known user, wrong password"] = _normalised(
            c.exchange(c.request("REGISTER", ruri, "101", cseq=2, extra=auth)), "101")

        auth = c.authorization(first, "REGISTER", ruri, "101", box.passwords["101"], realm="other.realm")
        answers["known user, wrong realm"] = _normalised(
            c.exchange(c.request("REGISTER", ruri, "101", cseq=3, extra=auth)), "101")

        auth = c.authorization(first, "REGISTER", ruri, "999", "whatever-pass")
        answers["unknown user, credentials"] = _normalised(
            c.exchange(c.request("REGISTER", ruri, "999", cseq=4, extra=auth)), "999")
        answers["unknown user, no credentials"] = _normalised(
            c.exchange(c.request("REGISTER", ruri, "999", cseq=5)), "999")

        # Sanity: the right password does register (so the challenge is real).
        ok = c.exchange(c.request("REGISTER", ruri, "101", cseq=6,
                                  extra=c.authorization(first, "REGISTER", ruri, "101", box.passwords["101"])))
        assert ok.status == 200, ok.raw

    reference = answers["known user, no credentials"]
    for label, answer in answers.items():
        # Only CSeq numbers differ, because the test sent different ones.
        strip = lambda a: (a[0], a[1], [(k, v) for k, v in a[2] if k.lower() != "cseq"])
        assert strip(answer) == strip(reference), f"{label} is distinguishable:\n{answer}\n{reference}"


def test_invite_without_valid_credentials_never_reaches_the_core(box):
    server = ("127.0.0.1", box.sip_port)
    ruri = f"sip:*43@127.0.0.1:{box.sip_port}"
    log_before = box.log().count("-> *43")
    with RawSipClient(server, local_ip="127.0.4.2") as c:
        challenge = c.exchange(c.request("INVITE", ruri, "101", call_id="noauth-1", to_user="*43"))
        assert challenge.status == 407
        assert challenge.header("Proxy-Authenticate")
        auth = c.authorization(challenge, "INVITE", ruri, "101", "wrong-password", header="Proxy-Authorization")
        again = c.exchange(c.request("INVITE", ruri, "101", call_id="noauth-1", cseq=2,
                                     extra=auth, to_user="*43"))
        assert again.status == 407
        # Someone else's identity with 102's valid password: refused too.
        auth = c.authorization(challenge, "INVITE", ruri, "102", box.passwords["102"], header="Proxy-Authorization")
        spoof = c.exchange(c.request("INVITE", ruri, "101", call_id="noauth-2", cseq=3,
                                     extra=auth, to_user="*43"))
        assert spoof.status == 407
    time.sleep(0.3)
    assert box.log().count("-> *43") == log_before
    assert box.status()["calls"] == []


def test_authenticated_but_unregistered_phone_cannot_call(box):
    result = box.phone("102", "--no-register", "--call", f"sip:*43@{box.proxy}", "--wait", "10")
    assert result.last("done")["last_code"] == 403, result.events
    assert "INVITE from unregistered 102" in box.log()
    assert box.status()["calls"] == []


def test_invite_straight_to_the_core_is_refused(box):
    ruri = f"sip:*43@127.0.0.1:{box.core_port}"
    with RawSipClient(("127.0.0.1", box.core_port), local_ip="127.0.0.1") as c:
        sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 8\r\n"
        response = c.exchange(c.request("INVITE", ruri, "101", call_id="bypass-1", to_user="*43",
                                        extra="X-SmallPBX-Caller: 101\r\n", body=sdp))
    assert response is not None and response.status == 403
    assert "bypassed the proxy" in box.log()


def test_repeated_failures_ban_the_address(box):
    server = ("127.0.0.1", box.sip_port)
    ruri = f"sip:127.0.0.1:{box.sip_port}"
    with RawSipClient(server, local_ip="127.0.4.9", timeout=1.0) as c:
        first = c.exchange(c.request("REGISTER", ruri, "101"))
        statuses = []
        for i in range(12):
            auth = c.authorization(first, "REGISTER", ruri, "101", f"guess-{i}")
            response = c.exchange(c.request("REGISTER", ruri, "101", cseq=2 + i, extra=auth))
            statuses.append(response.status if response else None)
            time.sleep(0.15)  # stay under the flood limit: this is the auth ban
        assert statuses[:9] == [401] * 9
        assert statuses[-1] is None, statuses
        # Even the right password is ignored now: the address is banned.
        auth = c.authorization(first, "REGISTER", ruri, "101", box.passwords["101"])
        assert c.exchange(c.request("REGISTER", ruri, "101", cseq=40, extra=auth)) is None
    # Another address is unaffected.
    with RawSipClient(server, local_ip="127.0.4.10") as c:
        assert c.exchange(c.request("REGISTER", ruri, "101")).status == 401
    assert "banned" in box.log()
