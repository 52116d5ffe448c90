"""A caller's whole path through the call center, with time fed in."""
from firmware.telephony import ivr
from firmware.telephony.agents import AgentBoard
from firmware.telephony.callcenter import (HOLD_MUSIC, UNAVAILABLE, Answer, Bridge, CallCenter, Hangup, Play,
                                           Ring, StopPlay, StopRinging)
from firmware.telephony.cdr import Disposition
from firmware.telephony.metrics import QueueStats
from firmware.telephony.queues import CallQueue, QueueConfig, Strategy
from firmware.telephony.targets import Target, TargetKind

Q = lambda ref: Target(TargetKind.QUEUE, ref)  # noqa: E731
M = lambda ref: Target(TargetKind.MENU, ref)  # noqa: E731


def build(strategy=Strategy.RRMEMORY, login=("201", "202")):
    board = AgentBoard()
    for ext in login:
        board.login(ext, 0)
    menus = {
        "main": ivr.Menu(id="main", prompt="welcome", operator=Q("sales"),
                         choices={"1": Q("sales"), "2": M("hours"), "9": Target(TargetKind.HANGUP)},
                         extensions=frozenset({"201", "202"})),
        "hours": ivr.Menu(id="hours", prompt="our-hours", operator=Q("sales"),
                          choices={"1": Target(TargetKind.ANNOUNCEMENT, "opening-times")}),
    }
    queues = {"sales": CallQueue(QueueConfig("sales", ("201", "202"), strategy, wrapup_s=5,
                                             ring_timeout_s=10, retry_s=2,
                                             failover=Target(TargetKind.VOICEMAIL, "shop")), board)}
    records, events = [], []
    cc = CallCenter(menus=menus, queues=queues, board=board, extensions={"201", "202"},
                    on_record=records.append, on_queue_event=events.append)
    return cc, records, events


def test_menu_to_queue_to_agent_and_the_record():
    cc, records, events = build()
    assert cc.incoming("c1", "13800000000", "gsm1", M("main"), 100) == [Answer("c1")]
    assert cc.answered("c1", 100.2) == [Play("c1", "welcome")]
    actions = cc.digit("c1", "1", 102)
    assert actions == [StopPlay("c1"), Play("c1", HOLD_MUSIC, loop=True), Ring("c1", "201", 10)]
    assert cc.agent_answered("c1", "201", 106) == [StopPlay("c1"), Bridge("c1", "201")]
    assert cc.caller_hung_up("c1", 166) == []
    [rec] = records
    assert (rec.caller, rec.line, rec.route, rec.ivr_choices) == ("13800000000", "gsm1", "menu:main", ["1"])
    assert (rec.queue, rec.agent, rec.disposition) == ("sales", "201", Disposition.ANSWERED)
    assert rec.wait_s == 4 and rec.talk_s == 60 and rec.wrapup_s == 5
    assert [(o.agent, o.outcome) for o in rec.offers] == [("201", "answered")]
    stats = QueueStats("sales")
    for e in events:
        stats.record(e)
    assert stats.as_dict()["answered"] == 1 and stats.as_dict()["average_talk_time_s"] == 60


def test_two_level_menu_then_announcement_then_hangup():
    cc, records, _ = build()
    cc.incoming("c2", "x", "sip", M("main"), 0)
    cc.answered("c2", 0)
    # "2" is a choice but also starts extensions 201/202: the menu waits 2 s.
    assert cc.digit("c2", "2", 1) == [StopPlay("c2")]
    assert cc.tick(3.1) == [Play("c2", "our-hours")]
    assert cc.digit("c2", "1", 4) == [StopPlay("c2"), Play("c2", "opening-times")]
    assert cc.prompt_done("c2", 9) == [Hangup("c2", "message played")]
    assert records[0].ivr_choices == ["2", "1"] and records[0].disposition is Disposition.HANGUP


def test_three_mistakes_reach_a_person_not_the_exit():
    cc, records, _ = build()
    cc.incoming("c3", "x", "sip", M("main"), 0)
    cc.answered("c3", 0)
    cc.digit("c3", "7", 1)
    cc.digit("c3", "8", 2)
    actions = cc.digit("c3", "5", 3)
    assert Ring("c3", "201", 10) in actions
    assert cc.calls["c3"].record.ivr_choices == ["7", "8", "5"]


def test_direct_dial_from_the_menu_rings_the_extension():
    cc, records, _ = build()
    cc.incoming("c5", "x", "sip", M("main"), 0)
    cc.answered("c5", 0)
    cc.digit("c5", "2", 1)
    cc.digit("c5", "0", 1.2)
    actions = cc.digit("c5", "2", 1.5)
    assert actions == [Play("c5", HOLD_MUSIC, loop=True), Ring("c5", "202", 30.0)]
    assert cc.agent_answered("c5", "202", 5) == [StopPlay("c5"), Bridge("c5", "202")]
    cc.caller_hung_up("c5", 20)
    assert records[0].ivr_choices == ["202"] and records[0].agent == "202"


def test_abandon_in_queue_and_in_ivr_are_told_apart():
    cc, records, events = build(login=())
    cc.incoming("c6", "x", "sip", M("main"), 0)
    cc.answered("c6", 0)
    cc.caller_hung_up("c6", 3)
    assert records[-1].disposition is Disposition.ABANDONED_IVR

    cc, records, events = build(login=("201",))
    cc.incoming("a", "x", "sip", Q("sales"), 0)
    cc.answered("a", 0)                      # rings 201
    cc.incoming("b", "y", "sip", Q("sales"), 1)
    cc.answered("b", 1)                      # waits
    assert cc.caller_hung_up("b", 9) == []
    assert records[-1].disposition is Disposition.ABANDONED_QUEUE and records[-1].wait_s == 8
    assert cc.caller_hung_up("a", 10) == [StopRinging("a", "201")]
    assert records[-1].disposition is Disposition.ABANDONED_QUEUE
    assert [e.event for e in events].count("ABANDON") == 2


def test_nobody_logged_in_goes_to_failover_and_an_unknown_mailbox_is_unavailable():
    cc, records, events = build(login=())
    cc.incoming("c7", "x", "sip", Q("sales"), 0)
    actions = cc.answered("c7", 0)
    assert actions[-1] == Play("c7", UNAVAILABLE)
    cc.prompt_done("c7", 4)
    assert records[0].disposition is Disposition.VOICEMAIL
    assert events[0].event == "JOINEMPTY"


def test_agent_no_answer_moves_on_and_agent_hangup_ends_the_call():
    cc, records, _ = build()
    cc.incoming("c8", "x", "sip", Q("sales"), 0)
    cc.answered("c8", 0)
    actions = cc.tick(10)
    assert StopRinging("c8", "201") in actions
    assert Ring("c8", "202", 10) in cc.tick(12)
    cc.agent_answered("c8", "202", 14)
    assert cc.agent_hung_up("c8", "202", 44) == [Hangup("c8", "agent hung up")]
    rec = records[0]
    assert [(o.agent, o.outcome) for o in rec.offers] == [("201", "noanswer"), ("202", "answered")]
    assert rec.agent == "202" and rec.talk_s == 30


def test_recording_always_and_on_demand():
    from firmware.telephony.callcenter import StartRecording
    cc, records, _ = build()
    cfg = cc.queues["sales"].config
    cc.queues["sales"].config = type(cfg)(**{**cfg.__dict__, "recording": "always"})
    cc.incoming("r1", "x", "sip", Q("sales"), 0)
    cc.answered("r1", 0)
    assert cc.agent_answered("r1", "201", 2)[-1] == StartRecording("r1", "201")
    cc.set_recording("r1", "2026-11-22/r1.wav")
    cc.caller_hung_up("r1", 9)
    assert records[-1].recording == "2026-11-22/r1.wav"

    cc.queues["sales"].config = type(cfg)(**{**cfg.__dict__, "recording": "on-demand"})
    cc.incoming("r2", "x", "sip", Q("sales"), 10)
    cc.answered("r2", 10)
    assert cc.calls["r2"].stage.value == "queue"   # waiting while 202 rings
    actions = cc.agent_answered("r2", "202", 12)
    assert not any(isinstance(a, StartRecording) for a in actions)
    assert cc.agent_digit("r2", "202", "*", 13) == []
    assert cc.agent_digit("r2", "202", "1", 13.2) == [StartRecording("r2", "202")]
    assert cc.agent_digit("r2", "202", "*", 14) == [] and cc.agent_digit("r2", "202", "1", 14.1) == []
    assert cc.agent_digit("r2", "201", "*", 15) == []   # not this call's agent
