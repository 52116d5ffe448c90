import pytest

from firmware.core import sipmsg
from torture import messages

INVITE = ("INVITE sip:%2A43@127.0.0.1:5060;transport=udp SIP/2.0\r\n"
          "Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK1\r\n"
          "x-smallpbx-caller:  101 \r\n"
          "Content-Length: 0\r\n\r\n")


def test_request_uri_user_is_unescaped():
    assert sipmsg.request_uri_user(INVITE) == "*43"


def test_header_lookup_is_case_insensitive_and_trimmed():
    assert sipmsg.header(INVITE, "X-SmallPBX-Caller") == "101"
    assert sipmsg.header(INVITE, "X-Missing") is None


@pytest.mark.parametrize("line,expected", [
    ("INVITE sip:101@host SIP/2.0", "101"),
    ("INVITE sip:host SIP/2.0", None),
    ("INVITE tel:+8613800000000;phone-context=x SIP/2.0", "+8613800000000"),
    ("INVITE mailto:a@b SIP/2.0", None),
    ("INVITE sip:101@host", None),
    ("SIP/2.0 200 OK", None),
    ("", None),
])
def test_request_uri_user_variants(line, expected):
    assert sipmsg.request_uri_user(line + "\r\n\r\n") == expected


def test_torture_messages_never_raise():
    for name, raw in messages().items():
        text = raw.decode("utf-8", errors="replace")
        sipmsg.request_uri_user(text)
        sipmsg.header(text, "From")
        sipmsg.header(text, "X-SmallPBX-Caller")
