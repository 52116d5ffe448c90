"""SMS PDUs and long texts (firmware/hw/modem/sms_pdu.py), pure.

Known PDUs come from published examples, each cited where it is used; the
rest are derived by hand from the tables of 3GPP TS 23.040 / TS 23.038
(the derivation is in the comment). Where a round trip is checked, the
other end is the emulator's PDU code (firmware/sim/pdu.py), written
separately, so the two implementations check each other.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from firmware.hw.modem import sms_pdu
from firmware.hw.modem.sms_pdu import (LATE_MARK, MISSING_MARK, Concat, PduError, Reassembler, SmsDeliver,
                                       decode_deliver, encode_submit, gsm7_septets, gsm7_text, split_text)
from firmware.sim import pdu as network

UTC8 = timezone(timedelta(hours=8))
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC8)
# TP-SCTS of WHEN, swapped semi-octets (TS 23.040 §9.2.3.11): 24 05 06 07 08 09,
# zone +32 quarter hours -> digits "3","2" swapped -> 0x23.
SCTS_WHEN = "42506070809023"
# +8613800138000: 13 digits (0x0D), international (0x91), swapped with an F pad.
CALLER_FIELD = "0D91" + "683108108300F0"


# -- published examples -------------------------------------------------------------------------

def test_the_hellohello_sms_deliver_from_the_pdu_format_tutorial():
    # "SMS messages and the PDU format", Lars Pettersson (dreamfabric.com),
    # mirrored at turbocontrol.com and subnets.ru: the SMS-DELIVER example.
    sms = decode_deliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
    assert sms.smsc == "+27381000015"
    assert sms.sender == "27838890001"          # type C8: subscriber number, no "+"
    assert sms.text == "hellohello" and sms.alphabet == "gsm7"
    assert sms.sent_at == "99/03/29,15:16:59+08"     # zone 0x80: +8 quarters, +2 h
    assert sms.timestamp == datetime(1999, 3, 29, 15, 16, 59, tzinfo=timezone(timedelta(hours=2)))
    assert sms.concat is None and not sms.more_messages and not sms.silent


def test_the_hellohello_sms_submit_from_the_pdu_format_tutorial():
    # Same tutorial, its SMS-SUBMIT to +46708251358 with validity AA (4 days).
    [pdu] = encode_submit("+46708251358", "hellohello", validity=0xAA)
    assert pdu.hex == "00" + "11000B916407281553F80000AA0AE8329BFD4697D9EC37"
    assert pdu.tpdu_length == 23
    # And the 24 h default, national number (type 0x81).
    [pdu] = encode_submit("10086", "hi")
    assert pdu.hex == "00" + "1100" + "0581" + "0180F6" + "0000A7" + "02" + "E834"


def test_fill_bits_after_a_header_the_reply_address_example():
    # alt.cellular.gsm thread "change SMS id" (a worked example): UDL 0x19 = 25
    # septets, UDHL 10 (IE 0x22 reply address +12345678901), the header plus
    # UDHL is 88 bits, so the text starts at septet 13 (91 bits): "Please reply".
    ud = "190A22080B912143658709F180B2CBE17919242FC3D979"
    sms = decode_deliver("00" + "44" + "0BC87238880900F1" + "0000" + "99309251619580" + ud)
    assert sms.text == "Please reply"
    assert [ie.iei for ie in sms.udh] == [0x22] and sms.concat is None


@pytest.mark.parametrize("header, concat", [
    # Wikipedia "Concatenated SMS", and the BICS / emnify SMS API docs:
    # "05 00 03 CC 02 01" (8-bit reference CC, 2 parts, part 1) ...
    ("050003CC0201", Concat(0xCC, 2, 1, 8)),
    # ... and "06 08 04 F4 2E 02 01" (16-bit reference F42E).
    ("060804F42E0201", Concat(0xF42E, 2, 1, 16)),
])
def test_concatenation_headers_from_the_published_examples(header, concat):
    # UCS2 (DCS 08): UDL counts octets, the header included; "你好" = 4F60 597D.
    udl = f"{len(header) // 2 + 4:02X}"
    sms = decode_deliver("00" + "40" + CALLER_FIELD + "0008" + SCTS_WHEN + udl + header + "4F60597D")
    assert sms.concat == concat and sms.text == "你好" and sms.more_messages


def test_seven_bit_text_after_a_concatenation_header_skips_one_fill_bit():
    # Header 05 00 03 CC 02 01 is 48 bits; the text starts at the next septet
    # boundary, bit 49 (one fill bit). "h" = 0x68 shifted up by the fill bit
    # gives octet 0xD0; "i" = 0x69 fills the next octet. UDL = 7 + 2 septets.
    sms = decode_deliver("00" + "40" + CALLER_FIELD + "0000" + SCTS_WHEN + "09" + "050003CC0201" + "D069")
    assert sms.text == "hi" and sms.concat == Concat(0xCC, 2, 1)
    assert sms_pdu.pack_septets([0x68, 0x69], bytes.fromhex("050003CC0201")).hex().upper() == "050003CC0201D069"


# -- alphabets -------------------------------------------------------------------------------------

def test_extension_characters_take_an_escape_each():
    # TS 23.038 §6.2.1.1 (and unicode.org GSM0338.TXT, 0x1B65 -> U+20AC):
    # € 1B65, [ 1B3C, ] 1B3E, { 1B28, } 1B29, ~ 1B3D, ^ 1B14, \ 1B2F, | 1B40.
    assert gsm7_septets("€[]{}") == [0x1B, 0x65, 0x1B, 0x3C, 0x1B, 0x3E, 0x1B, 0x28, 0x1B, 0x29]
    assert gsm7_septets("~^\\|") == [0x1B, 0x3D, 0x1B, 0x14, 0x1B, 0x2F, 0x1B, 0x40]
    assert gsm7_septets("@£$¥ΔΩ_ÄäÑñ§¿à") == [0x00, 0x01, 0x02, 0x03, 0x10, 0x15, 0x11, 0x5B, 0x7B,
                                              0x5D, 0x7D, 0x5F, 0x60, 0x7F]
    assert gsm7_septets("ç") is None and gsm7_septets("你") is None      # -> UCS2
    # An escape to a code the extension table lacks shows the default
    # character (§6.2.1.1); ESC ESC a space.
    assert gsm7_text([0x1B, 0x41, 0x1B, 0x1B, 0x1B, 0x65]) == "A €"


def test_a_seven_bit_text_with_extension_characters_round_trips_through_the_network():
    text = "Price: 10€ [sale] {today} ~ ^ | \\ back-slash"
    [tpdu] = network.deliver_tpdus("+8613800138000", text, WHEN)
    sms = decode_deliver(tpdu, tpdu_length=len(tpdu))          # no service-centre field
    assert (sms.text, sms.alphabet, sms.sender, sms.sent_at) == (text, "gsm7", "+8613800138000",
                                                                 "24/05/06,07:08:09+32")
    [submit] = encode_submit("+8613800138000", text)
    got = network.read_submit(bytes.fromhex(submit.hex)[1:])
    assert (got.address, got.text) == ("+8613800138000", text)
    assert bytes.fromhex(submit.hex)[1:][5 + 7] == 0x00              # DCS: 7-bit, not UCS2


def test_ucs2_chinese():
    # DCS 08, UDL 4 octets: U+4F60 U+597D.
    sms = decode_deliver("0891683108100005F0" + "04" + CALLER_FIELD + "0008" + SCTS_WHEN + "04" + "4F60597D")
    assert (sms.smsc, sms.sender, sms.text, sms.alphabet) == ("+8613800100500", "+8613800138000", "你好", "ucs2")
    assert sms.timestamp == WHEN
    [submit] = encode_submit("13800138000", "你好")
    assert submit.hex.endswith("0008A7" + "04" + "4F60597D")


def test_emoji_are_surrogate_pairs_even_across_parts():
    # "ok 😀": 😀 is U+1F600, UTF-16 D83D DE00.
    sms = decode_deliver("00" + "04" + CALLER_FIELD + "0008" + SCTS_WHEN + "0A" + "006F006B0020D83DDE00")
    assert sms.text == "ok 😀"
    # A sender that cut the pair between two parts: joined whole again.
    r = Reassembler()
    half1 = decode_deliver("00" + "40" + CALLER_FIELD + "0008" + SCTS_WHEN + "0C" + "05000377020100410042D83D")
    half2 = decode_deliver("00" + "44" + CALLER_FIELD + "0008" + SCTS_WHEN + "08" + "050003770202DE00")
    assert r.add(half1, 0) == []
    [message] = r.add(half2, 1)
    assert message.text == "AB😀" and message.parts == 2


def test_alphanumeric_sender():
    # TON 101 (type D0): "Bank" as packed septets, B 42, a 61, n 6E, k 6B
    # -> C2 B0 7B 0D (28 bits = 7 useful semi-octets, length 07).
    sms = decode_deliver("00" + "04" + "07D0C2B07B0D" + "0000" + SCTS_WHEN + "02" + "E834")
    assert sms.sender == "Bank" and sms.text == "hi"
    [tpdu] = network.deliver_tpdus("CMCC 10086", "余额 5 元", WHEN)
    assert decode_deliver(tpdu, tpdu_length=len(tpdu)).sender == "CMCC 10086"


@pytest.mark.parametrize("dcs, ud, text", [
    ("04", "48690A", "Hi\n"),          # general group, 8-bit data (read as Latin-1)
    ("18", "00480069", "Hi"),          # general group, class meaning, UCS2
    ("F0", "C834", "Hi"),              # data coding/message class group, 7-bit, class 0 (flash)
    ("C0", "C834", "Hi"),              # message waiting, discard: 7-bit
    ("E0", "00480069", "Hi"),          # message waiting, store: UCS2
    ("80", "C834", "Hi"),              # reserved group: the default alphabet (§4)
])
def test_data_coding_schemes(dcs, ud, text):
    udl = "02" if dcs in ("F0", "C0", "80") else f"{len(ud) // 2:02X}"
    assert decode_deliver("00" + "04" + CALLER_FIELD + "00" + dcs + SCTS_WHEN + udl + ud).text == text


def test_time_zone_west_of_greenwich():
    # -20 quarter hours (UTC-5): digits "2","0", sign in bit 3 of the first -> 0x0A.
    sms = decode_deliver("00" + "04" + CALLER_FIELD + "0000" + "425060708090" + "0A" + "02E834")
    assert sms.sent_at == "24/05/06,07:08:09-20"
    assert sms.timestamp.utcoffset() == timedelta(hours=-5)
    # A nonsense date loses the time stamp, never the message.
    sms = decode_deliver("00" + "04" + CALLER_FIELD + "0000" + "42F060708090" + "23" + "02E834")
    assert (sms.timestamp, sms.sent_at, sms.text) == (None, "", "hi")


def test_silent_messages_and_bad_pdus():
    silent = decode_deliver("00" + "04" + CALLER_FIELD + "4000" + SCTS_WHEN + "00")
    assert silent.silent and silent.text == ""
    with pytest.raises(PduError):
        decode_deliver("zz")
    with pytest.raises(PduError):
        decode_deliver("00" + "04" + CALLER_FIELD + "0000" + "4250")          # ends in the time stamp
    with pytest.raises(PduError):
        decode_deliver("00" + "11000B916407281553F80000AA0AE8329BFD4697D9EC37")   # a SUBMIT
    assert isinstance(PduError("x"), ValueError)


# -- splitting ----------------------------------------------------------------------------------------

def test_split_sizes():
    assert split_text("a" * 160) == ("gsm7", ["a" * 160])
    assert [len(p) for p in split_text("a" * 161)[1]] == [153, 8]
    assert split_text("你" * 70) == ("ucs2", ["你" * 70])
    assert [len(p) for p in split_text("你" * 71)[1]] == [67, 4]
    assert [len(p) for p in split_text("a" * 400, ref16=True)[1]] == [152, 152, 96]
    # An escape pair is never cut: 152 septets + "€" (2) > 153.
    assert split_text("a" * 152 + "€" + "b" * 10)[1][0] == "a" * 152
    # Nor a surrogate pair: 66 units + "😀" (2) > 67.
    assert split_text("a" * 66 + "😀" + "b" * 10)[1][0] == "a" * 66
    with pytest.raises(ValueError):
        split_text("你" * (67 * 255 + 1))


@pytest.mark.parametrize("text, parts, dcs", [
    ("The shop opens at 9. " * 19 + "Bring the €20 voucher [code {A}]", 3, 0x00),
    ("明天上午十点还营业吗？" * 40, 7, 0x08),            # 440 characters, 67 a part
    ("Party 🎉🎂 tonight, 8 pm! " * 8, 4, 0x08),
])
def test_long_texts_go_in_concatenated_parts_the_network_joins(text, parts, dcs):
    pdus = encode_submit("+8613800138000", text, ref=0x5A)
    assert len(pdus) == parts
    got = []
    for seq, pdu in enumerate(pdus, 1):
        octets = bytes.fromhex(pdu.hex)
        assert octets[0] == 0 and len(octets) - 1 == pdu.tpdu_length <= 140 + 15
        assert octets[1] & 0x40 and octets[13] == dcs                  # UDHI; DCS after the address
        part = network.read_submit(octets[1:])
        assert (part.ref, part.total, part.seq) == (0x5A, parts, seq)
        got.append(part.text)
    assert network.join_text(got) == text


def test_a_sixteen_bit_reference_when_asked():
    pdus = encode_submit("10086", "x" * 200, ref=0x1234, ref16=True)
    octets = bytes.fromhex(pdus[0].hex)[1:]
    udh = octets[octets.index(bytes([6, 8, 4])):][:7]
    assert udh == bytes([6, 8, 4, 0x12, 0x34, 2, 1])
    assert network.join_text([network.read_submit(bytes.fromhex(p.hex)[1:]).text for p in pdus]) == "x" * 200


# -- reassembly ------------------------------------------------------------------------------------

def part(seq: int, total: int = 3, text: str | None = None, *, ref: int = 7, sender: str = "+8613800138000",
         ref_bits: int = 8) -> SmsDeliver:
    return SmsDeliver(sender=sender, text=text if text is not None else f"<{seq}>", timestamp=WHEN,
                      sent_at=f"24/05/06,07:08:0{seq}+32", concat=Concat(ref, total, seq, ref_bits))


def test_a_single_message_passes_straight_through():
    single = decode_deliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
    [message] = Reassembler().add(single, 0)
    assert (message.sender, message.text, message.sent_at, message.parts, message.missing) == (
        "27838890001", "hellohello", "99/03/29,15:16:59+08", 1, ())


def test_parts_out_of_order_are_joined_in_order():
    r = Reassembler()
    assert r.add(part(3), 0) == [] and r.add(part(1), 1) == []
    assert r.pending == 1
    [message] = r.add(part(2), 2)
    assert (message.text, message.parts, message.missing) == ("<1><2><3>", 3, ())
    assert message.sent_at == "24/05/06,07:08:01+32"                   # part 1's time stamp
    assert r.pending == 0 and r.next_deadline() is None


def test_a_repeated_part_is_dropped_before_and_after_the_text_is_whole():
    r = Reassembler()
    r.add(part(1, 2), 0)
    assert r.add(part(1, 2), 1) == []                                   # waiting: the same part again
    [message] = r.add(part(2, 2), 2)
    assert message.text == "<1><2>"
    assert r.add(part(2, 2), 3) == []                                   # given out: read again off a SIM


def test_different_senders_and_references_are_different_texts():
    r = Reassembler()
    r.add(part(1, 2, "A1"), 0)
    r.add(part(1, 2, "B1", sender="10086"), 0)
    r.add(part(1, 2, "C1", ref=8), 0)
    r.add(part(1, 2, "D1", ref_bits=16), 0)
    assert r.pending == 4
    assert [m.text for m in r.add(part(2, 2, "B2", sender="10086"), 1)] == ["B1B2"]
    assert [m.text for m in r.add(part(2, 2, "D2", ref_bits=16), 1)] == ["D1D2"]


def test_a_missing_part_times_out_marked_and_a_late_part_still_shows():
    r = Reassembler(timeout=600)
    r.add(part(1), 0)
    r.add(part(3), 100)
    assert r.next_deadline() == 700
    assert r.expire(699) == []
    [message] = r.expire(700)
    assert message.text == "<1>" + MISSING_MARK.format(seq=2, total=3) + "<3>"
    assert message.missing == (2,) and message.parts == 3
    assert r.pending == 0
    [late] = r.add(part(2), 800)
    assert late.text == LATE_MARK.format(seq=2, total=3) + "<2>"
    assert late.missing == (1, 3)
    assert r.add(part(2), 900) == []                                    # and only once


def test_the_oldest_text_goes_out_when_too_many_wait():
    r = Reassembler(max_pending=2)
    r.add(part(1, ref=1), 0)
    r.add(part(1, ref=2), 1)
    [forced] = r.add(part(1, ref=3), 2)
    assert forced.text.startswith("<1>[part 2 of 3 missing]") and forced.missing == (2, 3)
    assert r.pending == 2


def test_a_reused_reference_with_new_content_starts_a_new_text():
    r = Reassembler()
    r.add(part(1, 2, "old "), 0)
    [old] = r.add(part(1, 2, "new "), 5)
    assert old.text == "old " + MISSING_MARK.format(seq=2, total=2)
    [new] = r.add(part(2, 2, "text"), 6)
    assert new.text == "new text"


def test_a_sender_that_always_uses_the_same_reference():
    r = Reassembler()
    r.add(part(1, 2, "first "), 0)
    assert [m.text for m in r.add(part(2, 2, "text"), 1)] == ["first text"]
    assert r.add(part(1, 2, "second "), 60) == []                      # not a repeat: new content
    assert [m.text for m in r.add(part(2, 2, "one"), 61)] == ["second one"]


def test_a_text_given_out_is_forgotten_after_a_day():
    r = Reassembler(timeout=10, remember=100)
    r.add(part(1, 2), 0)
    r.expire(10)
    assert r.add(part(1, 2), 50) == []                                  # still remembered: a repeat
    r.add(part(1, 2), 200)                                              # forgotten: a new text
    assert r.pending == 1


def test_an_escape_cut_between_seven_bit_parts_is_joined():
    r = Reassembler()
    r.add(part(1, 2, "10\x1b"), 0)              # ESC ended part 1; 0x65 ("e") began part 2
    [message] = r.add(part(2, 2, "e off"), 1)
    assert message.text == "10€ off"
