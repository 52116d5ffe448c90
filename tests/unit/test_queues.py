"""The ACD core, driven by events with their own times (no sleeping)."""
import pytest

from firmware.telephony.agents import AgentBoard, AgentError, AgentState
from firmware.telephony.metrics import QueueStats
from firmware.telephony.queues import (Announce, CallQueue, Cancel, Connect, Leave, Offer, QueueConfig,
                                       QueueResult, Strategy)
from firmware.telephony.targets import Target, TargetKind

VOICEMAIL = Target(TargetKind.VOICEMAIL, "shop")


def make(strategy=Strategy.RRMEMORY, members=("201", "202", "203"), login=True, now=0.0, **kw):
    board = AgentBoard()
    for i, m in enumerate(members):
        board.ensure(m)
        if login:
            board.login(m, now + i * 0.001)
    kw.setdefault("failover", VOICEMAIL)
    return CallQueue(QueueConfig("sales", tuple(members), strategy, **kw), board), board


def offers(actions):
    return [a.extension for a in actions if isinstance(a, Offer)]


def serve(q, call_id, now, talk=30.0):
    """Caller joins, the offered agent answers, talks, hangs up. Returns the agent."""
    ext = offers(q.join(call_id, f"caller-{call_id}", now))[0]
    q.offer_answered(call_id, ext, now + 1)
    q.call_ended(call_id, now + 1 + talk)
    return ext


def test_round_robin_spreads_calls_evenly_over_three_agents():
    q, board = make(Strategy.RRMEMORY, wrapup_s=0)
    served = []
    t = 10.0
    for i in range(9):
        served.append(serve(q, f"c{i}", t))
        t += 100
        q.tick(t)
    assert served == ["201", "202", "203"] * 3


def test_round_robin_continues_after_the_last_offered_even_if_it_is_busy():
    q, board = make(Strategy.RRMEMORY, wrapup_s=0)
    assert offers(q.join("a", "x", 1)) == ["201"]
    q.offer_answered("a", "201", 2)
    assert offers(q.join("b", "y", 3)) == ["202"]
    q.offer_answered("b", "202", 4)
    q.call_ended("a", 5)
    q.tick(5)
    # 201 is free again, but the memory continues with 203.
    assert offers(q.join("c", "z", 6)) == ["203"]


def test_longest_idle_offers_the_agent_idle_longest_and_not_one_in_wrap_up():
    q, board = make(Strategy.LEASTRECENT, wrapup_s=20)
    # 202 served at t=100 and is in wrap-up until 131.
    assert serve(q, "a", 100, talk=10) == "201"  # 201 idle since login (t=0.000)
    assert board.get("201").state is AgentState.WRAP_UP
    # 202 (idle since 0.001) is now longest idle; 201 is in wrap-up.
    assert offers(q.join("b", "y", 115)) == ["202"]
    q.offer_answered("b", "202", 116)
    # At 125 only 203 is free.
    assert offers(q.join("c", "z", 125)) == ["203"]
    q.offer_answered("c", "203", 126)
    q.call_ended("b", 127)
    q.call_ended("c", 128)
    # t=140: 201's wrap-up ended at 131, 202's at 147 (still wrapping), 203's at 148.
    q.tick(140)
    assert board.get("201").state is AgentState.AVAILABLE
    assert board.get("201").idle_since == 131  # measured from the end of wrap-up
    assert offers(q.join("d", "w", 140)) == ["201"]
    q.offer_answered("d", "201", 141)
    q.tick(150)
    # Now 202 (free since 147) has been idle longer than 203 (free since 148).
    assert offers(q.join("e", "v", 150)) == ["202"]


def test_fewest_calls_and_ring_all():
    q, board = make(Strategy.FEWESTCALLS, wrapup_s=0)
    serve(q, "a", 10)   # 201
    q.tick(100)
    assert offers(q.join("b", "y", 100)) == ["202"]
    q2, board2 = make(Strategy.RINGALL)
    actions = q2.join("r", "x", 1)
    assert offers(actions) == ["201", "202", "203"]
    answered = q2.offer_answered("r", "202", 3)
    assert {a.extension for a in answered if isinstance(a, Cancel)} == {"201", "203"}
    assert [a for a in answered if isinstance(a, Connect)] == [Connect("r", "202", 2)]
    assert board2.get("201").state is AgentState.AVAILABLE


def test_no_answer_skips_the_agent_and_auto_pauses_after_n_misses():
    q, board = make(Strategy.RRMEMORY, ring_timeout_s=15, retry_s=5, autopause_after=2)
    assert offers(q.join("a", "x", 0)) == ["201"]
    actions = q.tick(15)
    assert Cancel("a", "201", "timeout") in actions
    assert offers(actions) == []              # retry delay first
    assert offers(q.tick(20)) == ["202"]      # the next agent, not 201 again
    q.offer_answered("a", "202", 21)
    assert board.get("201").missed_in_row == 1 and board.get("201").state is AgentState.AVAILABLE
    # 201 misses again (rrmemory: 203 next, then 201).
    assert offers(q.join("b", "y", 30)) == ["203"]
    q.offer_failed("b", "203", 31, "busy")
    assert offers(q.tick(36)) == ["201"]
    q.tick(51)
    agent = board.get("201")
    assert agent.state is AgentState.PAUSED and agent.pause_reason == "no-answer"
    assert any(e.event == "PAUSE" and e.agent == "201" for e in q.events)
    board.unpause("201", 60)
    assert board.get("201").missed_in_row == 0


def test_abandon_while_ringing_cancels_the_offer_and_frees_the_agent():
    q, board = make()
    q.join("a", "x", 0)
    actions = q.caller_left("a", 7)
    assert actions == [Cancel("a", "201", "caller-left")]
    assert board.get("201").state is AgentState.AVAILABLE
    assert q.events[-1].event == "ABANDON" and q.events[-1].data["wait"] == 7


def test_join_empty_full_timeout_leave_empty_and_exit_key():
    q, board = make(login=False, join_empty=False)
    assert q.join("a", "x", 0) == [Leave("a", QueueResult.JOINEMPTY, VOICEMAIL, 0.0)]
    q, board = make(max_callers=1, max_wait_s=60, exit_key="1",
                    exit_target=Target(TargetKind.VOICEMAIL, "sales"))
    board.pause("201", 0)
    board.pause("202", 0)
    board.pause("203", 0, reason="lunch")
    # All paused: joining is refused as empty.
    assert q.join("a", "x", 1)[0].result is QueueResult.JOINEMPTY
    board.unpause("203", 2)
    q.join("b", "x", 3)                                   # offered to 203
    q.offer_answered("b", "203", 4)
    assert q.join("c", "y", 5) == []                      # waits: nobody free
    assert q.join("d", "z", 6)[0].result is QueueResult.FULL
    actions = q.tick(65)
    assert Leave("c", QueueResult.TIMEOUT, VOICEMAIL, 60.0) in actions
    q.join("e", "w", 70)
    assert q.exit_key("e", "2", 71) == []
    assert q.exit_key("e", "1", 72) == [Leave("e", QueueResult.EXITKEY, Target(TargetKind.VOICEMAIL, "sales"), 2.0)]
    q.join("f", "v", 80)
    board.pause("203", 81)     # on a call: takes effect after it
    q.call_ended("b", 90)
    actions = q.tick(100)      # wrap-up over -> paused -> nobody staffs the queue
    assert board.get("203").state is AgentState.PAUSED
    assert Leave("f", QueueResult.LEAVEEMPTY, VOICEMAIL, 20.0) in actions
    assert q.entries == []


def test_sticky_agent_gets_the_returning_caller_first():
    last = {"13800000000": "203"}
    board = AgentBoard()
    for m in ("201", "202", "203"):
        board.login(m, 0)
    q = CallQueue(QueueConfig("sales", ("201", "202", "203"), sticky_days=7), board,
                  last_agent=lambda caller, days: last.get(caller))
    assert offers(q.join("a", "13800000000", 5)) == ["203"]
    assert offers(q.join("b", "13900000000", 6)) == ["201"]


def test_position_announcements():
    q, board = make(login=False, join_empty=True, announce_every_s=30, leave_when_empty=False)
    q.join("a", "x", 0)
    q.join("b", "y", 10)
    actions = q.tick(31)
    assert [a for a in actions if isinstance(a, Announce)] == [Announce("a", 1, None)]
    assert [a for a in q.tick(41) if isinstance(a, Announce)] == [Announce("b", 2, None)]


def test_agent_actions_that_make_no_sense_are_refused():
    board = AgentBoard()
    with pytest.raises(AgentError):
        board.pause("201", 0)
    board.login("201", 0)
    board.offered("201", "c", 1)
    with pytest.raises(AgentError):
        board.logout("201", 2)
    with pytest.raises(AgentError):
        board.offered("201", "d", 2)


def test_stats_match_what_happened_number_by_number():
    q, board = make(Strategy.RRMEMORY, wrapup_s=0, sl_threshold_s=15, max_wait_s=100)
    stats = QueueStats("sales", sl_threshold_s=15)
    q.join("a", "x", 0); q.offer_answered("a", "201", 5); q.call_ended("a", 65)        # wait 5, talk 60
    q.join("b", "y", 10); q.offer_answered("b", "202", 30); q.call_ended("b", 50)      # wait 20, talk 20
    q.join("c", "z", 20); q.offer_answered("c", "203", 21)                             # wait 1, still talking
    q.join("d", "w", 40); q.caller_left("d", 48)                                       # abandoned after 8 s
    for event in q.drain_events():
        stats.record(event)
    d = stats.as_dict()
    assert (d["offered"], d["answered"], d["abandoned"]) == (4, 3, 1)
    assert d["service_level"] == round(2 / 3, 4)
    assert d["service_level_with_abandons"] == 0.5
    assert d["average_speed_of_answer_s"] == round((5 + 20 + 1) / 3, 4)
    assert d["average_talk_time_s"] == 40.0
    assert d["abandon_rate"] == 0.25
    assert board.get("201").calls_taken == 1 and board.get("201").talk_time == 60
