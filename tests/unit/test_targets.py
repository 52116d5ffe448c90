import pytest

from firmware.telephony.targets import Target, TargetKind


def test_parse_and_print_round_trip():
    for text in ("queue:sales", "menu:main", "extension:101", "voicemail:shop", "hangup",
                 "announcement:closed", "time_condition:hours"):
        assert str(Target.parse(text)) == text
    assert Target.parse("queue:sales") == Target(TargetKind.QUEUE, "sales")


@pytest.mark.parametrize("bad", ["", "queue", "pager:1", "menu:"])
def test_bad_destinations_are_refused(bad):
    with pytest.raises(ValueError):
        Target.parse(bad)
