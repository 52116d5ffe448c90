from firmware.telephony.calls import ActiveCall, Admission, CallState, CallTable, Direction
from firmware.telephony.dialplan import App, Dialplan


def test_feature_codes_route_to_their_apps():
    plan = Dialplan({"101"})
    assert plan.route("*43").app is App.ECHO
    playback = plan.route("*44")
    assert playback.app is App.PLAYBACK and playback.target == "playback-test"


def test_extensions_dial_and_unknown_numbers_are_404():
    plan = Dialplan({"101", "102"})
    assert plan.route("102").app is App.DIAL and plan.route("102").target == "102"
    for dialed in ("103", "*999", "", "abc", "1" * 40, "10;1", None):
        dest = plan.route(dialed)
        assert dest.app is App.REJECT and dest.status == 404, dialed


def test_admission_uses_the_smaller_limit_and_counts_refusals():
    adm = Admission(engine_limit=4)
    assert adm.limit == 4
    assert adm.admit(3) and not adm.admit(4)
    adm.configured_limit = 2
    assert adm.limit == 2
    assert not adm.admit(2)
    adm.configured_limit = 10  # never above what the engine really has
    assert adm.limit == 4
    assert adm.refused == 2


def test_call_table_tracks_state_and_duration_from_event_times():
    table = CallTable()
    table.add(ActiveCall(7, Direction.INBOUND, "101", "*43", "echo", started=100.0))
    assert table.snapshot(now=101.0)[0]["state"] == "offered"
    table.answered(7, when=102.0)
    snap = table.snapshot(now=110.0)[0]
    assert snap["state"] == "up" and snap["duration"] == 8.0
    ended = table.ended(7)
    assert ended.state is CallState.ENDED and len(table) == 0
    assert table.ended(7) is None
