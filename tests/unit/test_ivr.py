import dataclasses

import pytest

from firmware.errors import ConfigError
from firmware.telephony.ivr import (
    DigitPressed, GoTo, Menu, MenuSession, MenuStarted, PlayPrompt, PromptFinished, StopPrompt,
    Tick, validate_menu,
)
from firmware.telephony.targets import Target, TargetKind

SALES = Target(TargetKind.QUEUE, "sales")
SUPPORT_MENU = Target(TargetKind.MENU, "support")
OPERATOR = Target(TargetKind.EXTENSION, "100")
NIGHT = Target(TargetKind.VOICEMAIL, "night")
REPLAY_INVALID = [PlayPrompt("invalid-entry"), PlayPrompt("main")]
REPLAY_TIMEOUT = [PlayPrompt("no-entry"), PlayPrompt("main")]


def ext(number):
    return Target(TargetKind.EXTENSION, number)


def make_menu(**overrides):
    fields = dict(id="main", prompt="main", choices={"1": SALES, "2": SUPPORT_MENU}, operator=OPERATOR)
    fields.update(overrides)
    return Menu(**fields)


def listening(menu=None, at=0.0):
    """A session whose menu prompt has played to its end at ``at``."""
    session = MenuSession(menu or make_menu())
    assert session.handle(MenuStarted(rtime=at)) == [PlayPrompt("main")]
    assert session.handle(PromptFinished(rtime=at)) == []
    return session


def press(session, digits, at):
    """Press each digit 0.5 s apart; return every call's actions."""
    return [session.handle(DigitPressed(d, rtime=at + 0.5 * i)) for i, d in enumerate(digits)]


# rule 1, 2: start and barge-in

def test_start_plays_the_menu_prompt_interruptibly():
    session = MenuSession(make_menu(prompt="welcome"))
    actions = session.handle(MenuStarted(rtime=10.0))
    assert actions == [PlayPrompt("welcome", interruptible=True)]
    assert session.done is False and session.attempts == 0 and session.choices == []


def test_events_before_start_and_a_second_start_do_nothing():
    session = MenuSession(make_menu())
    assert session.handle(DigitPressed("1", rtime=0.0)) == []
    assert session.handle(Tick(rtime=99.0)) == []
    assert session.handle(MenuStarted(rtime=1.0)) == [PlayPrompt("main")]
    assert session.handle(MenuStarted(rtime=2.0)) == []
    assert session.handle("not an event") == []
    assert session.handle(None) == []


def test_digit_during_prompt_stops_it_and_is_handled_at_once():
    session = MenuSession(make_menu())
    session.handle(MenuStarted(rtime=0.0))
    assert session.handle(DigitPressed("1", rtime=0.4)) == [StopPrompt(), GoTo(SALES, "choice", "1")]
    assert session.done and session.choices == ["1"]


def test_choice_after_prompt_needs_no_stop():
    session = listening()
    assert session.handle(DigitPressed("1", rtime=3.0)) == [GoTo(SALES, "choice", "1")]
    assert session.result == GoTo(SALES, "choice", "1")


# rule 4: choices and two levels

def test_two_level_navigation_through_a_menu_target():
    main = listening()
    assert main.handle(DigitPressed("2", rtime=1.0)) == [GoTo(SUPPORT_MENU, "choice", "2")]
    support_menu = make_menu(id="support", prompt="support", choices={"3": NIGHT})
    support = MenuSession(support_menu)
    assert support.handle(MenuStarted(rtime=1.1)) == [PlayPrompt("support")]
    assert support.handle(DigitPressed("3", rtime=2.0)) == [StopPrompt(), GoTo(NIGHT, "choice", "3")]
    assert main.choices + support.choices == ["2", "3"]


def test_choice_that_starts_an_extension_waits_then_takes_the_choice():
    session = listening(make_menu(extensions={"101"}), at=0.0)
    assert session.handle(DigitPressed("1", rtime=1.0)) == []
    assert session.handle(Tick(rtime=2.9)) == []
    assert session.handle(Tick(rtime=3.0)) == [GoTo(SALES, "choice", "1")]
    assert session.choices == ["1"] and session.attempts == 0


def test_choice_that_starts_an_extension_dials_the_extension_if_more_digits_come():
    session = listening(make_menu(extensions={"101"}))
    assert press(session, "101", at=1.0) == [[], [], [GoTo(ext("101"), "extension", "101")]]
    assert session.choices == ["101"]


# rule 5: direct dial

def test_extension_dialled_directly_goes_at_once_when_nothing_longer_exists():
    session = listening(make_menu(extensions={"201", "202", "301"}))
    assert press(session, "30", at=1.0) == [[], []]
    assert session.handle(DigitPressed("1", rtime=1.5)) == [GoTo(ext("301"), "extension", "301")]


def test_extension_that_prefixes_a_longer_one_waits_inter_digit_then_goes():
    session = listening(make_menu(extensions={"30", "301"}, inter_digit_s=3.0))
    assert press(session, "30", at=1.0) == [[], []]          # second digit at 1.5
    assert session.handle(Tick(rtime=4.4)) == []
    assert session.handle(Tick(rtime=4.5)) == [GoTo(ext("30"), "extension", "30")]


def test_inter_digit_wait_restarts_with_each_digit():
    session = listening(make_menu(extensions={"30", "301"}))
    session.handle(DigitPressed("3", rtime=1.0))
    assert session.handle(Tick(rtime=2.9)) == []
    session.handle(DigitPressed("0", rtime=2.9))
    assert session.handle(Tick(rtime=4.8)) == []
    assert session.handle(DigitPressed("1", rtime=4.8)) == [GoTo(ext("301"), "extension", "301")]


def test_digits_that_can_match_nothing_are_invalid():
    session = listening(make_menu(extensions={"301"}))
    assert press(session, "39", at=1.0) == [[], REPLAY_INVALID]
    assert session.attempts == 1 and session.choices == ["39"]
    assert session.handle(DigitPressed("5", rtime=2.0)) == [StopPrompt()] + REPLAY_INVALID
    assert session.attempts == 2 and session.choices == ["39", "5"]


def test_partial_number_left_hanging_counts_as_a_timeout():
    session = listening(make_menu(extensions={"301"}))
    press(session, "30", at=1.0)
    assert session.handle(Tick(rtime=3.5)) == REPLAY_TIMEOUT
    assert session.attempts == 1 and session.choices == ["30"] and not session.done


# rule 6: "#"

def test_hash_ends_collection_on_an_extension():
    session = listening(make_menu(extensions={"30", "301"}))
    assert press(session, "30#", at=1.0) == [[], [], [GoTo(ext("30"), "extension", "30")]]


def test_hash_after_digits_that_are_no_extension_is_invalid():
    session = listening(make_menu(extensions={"301"}))
    assert press(session, "30#", at=1.0) == [[], [], REPLAY_INVALID]
    assert session.attempts == 1 and session.choices == ["30"]


def test_hash_alone_is_invalid_unless_configured():
    session = listening()
    assert session.handle(DigitPressed("#", rtime=1.0)) == REPLAY_INVALID
    assert session.choices == ["#"]
    configured = listening(make_menu(choices={"#": NIGHT}))
    assert configured.handle(DigitPressed("#", rtime=1.0)) == [GoTo(NIGHT, "choice", "#")]


def test_hash_after_a_waiting_choice_takes_the_choice():
    session = listening(make_menu(extensions={"101"}))
    assert press(session, "1#", at=1.0) == [[], [GoTo(SALES, "choice", "1")]]


# rule 3: zero

def test_zero_reaches_the_operator_when_not_configured():
    session = MenuSession(make_menu())
    session.handle(MenuStarted(rtime=0.0))
    assert session.handle(DigitPressed("0", rtime=0.2)) == [StopPrompt(), GoTo(OPERATOR, "operator", "0")]
    assert session.choices == ["0"]


def test_zero_as_a_configured_choice_wins():
    session = listening(make_menu(choices={"0": NIGHT}))
    assert session.handle(DigitPressed("0", rtime=1.0)) == [GoTo(NIGHT, "choice", "0")]


def test_zero_reaches_the_operator_even_after_failures_and_with_failover_set():
    session = listening(make_menu(failover=NIGHT))
    session.handle(DigitPressed("7", rtime=1.0))
    assert session.handle(DigitPressed("0", rtime=2.0)) == [StopPrompt(), GoTo(OPERATOR, "operator", "0")]


# rules 7, 8: failures and giving up

def test_three_invalid_entries_reach_a_person():
    session = listening()
    assert session.handle(DigitPressed("7", rtime=1.0)) == REPLAY_INVALID
    assert session.handle(DigitPressed("8", rtime=2.0)) == [StopPrompt()] + REPLAY_INVALID
    assert session.handle(DigitPressed("9", rtime=3.0)) == [StopPrompt(), GoTo(OPERATOR, "invalid-exhausted", "9")]
    assert session.done and session.attempts == 3 and session.choices == ["7", "8", "9"]


def test_exhaustion_goes_to_failover_when_set():
    session = listening(make_menu(failover=NIGHT, max_attempts=1))
    assert session.handle(DigitPressed("7", rtime=1.0)) == [GoTo(NIGHT, "invalid-exhausted", "7")]


def test_mixed_failures_count_together_and_the_last_one_names_the_reason():
    session = listening()
    assert session.handle(DigitPressed("7", rtime=1.0)) == REPLAY_INVALID
    session.handle(PromptFinished(rtime=2.0))
    session.handle(PromptFinished(rtime=4.0))
    assert session.handle(Tick(rtime=9.0)) == REPLAY_TIMEOUT
    assert session.attempts == 2
    session.handle(PromptFinished(rtime=10.0))
    session.handle(PromptFinished(rtime=12.0))
    assert session.handle(Tick(rtime=17.0)) == [GoTo(OPERATOR, "timeout-exhausted", "")]
    assert session.choices == ["7"]


def test_timeout_then_invalid_ends_as_invalid_exhausted():
    session = listening(make_menu(max_attempts=2))
    assert session.handle(Tick(rtime=5.0)) == REPLAY_TIMEOUT
    assert session.handle(DigitPressed("5", rtime=6.0)) == [StopPrompt(), GoTo(OPERATOR, "invalid-exhausted", "5")]


def test_timeout_starts_only_after_the_menu_prompt_finished():
    session = MenuSession(make_menu(timeout_s=4.0))
    session.handle(MenuStarted(rtime=0.0))
    assert session.handle(Tick(rtime=30.0)) == []            # prompt still playing
    session.handle(PromptFinished(rtime=30.0))
    assert session.handle(Tick(rtime=33.9)) == []
    assert session.handle(Tick(rtime=34.0)) == REPLAY_TIMEOUT
    # Two prompts are queued now; the sorry prompt ending does not arm the timer.
    session.handle(PromptFinished(rtime=35.0))
    assert session.handle(Tick(rtime=50.0)) == []
    session.handle(PromptFinished(rtime=50.0))
    assert session.handle(Tick(rtime=53.9)) == []
    assert session.handle(Tick(rtime=54.0)) == REPLAY_TIMEOUT
    assert session.attempts == 2


# rules 9, 10: robustness

def test_events_after_done_return_nothing():
    session = listening()
    session.handle(DigitPressed("1", rtime=1.0))
    for event in (DigitPressed("2", rtime=2.0), DigitPressed("A", rtime=2.0), Tick(rtime=99.0),
                  PromptFinished(rtime=3.0), MenuStarted(rtime=4.0)):
        assert session.handle(event) == []
    assert session.result == GoTo(SALES, "choice", "1") and session.choices == ["1"]


@pytest.mark.parametrize("garbage", ["A", "", "12", " ", None, 5])
def test_garbage_digits_are_invalid_entries(garbage):
    session = listening()
    assert session.handle(DigitPressed(garbage, rtime=1.0)) == REPLAY_INVALID
    assert session.attempts == 1 and session.choices == ["?"]


def test_garbage_in_the_middle_of_a_number_drops_it():
    session = listening(make_menu(extensions={"301"}))
    assert press(session, "3A", at=1.0) == [[], REPLAY_INVALID]
    assert session.choices == ["3?"]
    assert press(session, "301", at=5.0) == [[StopPrompt()], [], [GoTo(ext("301"), "extension", "301")]]


def test_menu_is_frozen_and_keeps_extensions_as_a_frozenset():
    menu = make_menu(extensions=["101", "102"])
    assert menu.extensions == frozenset({"101", "102"})
    assert (menu.timeout_s, menu.inter_digit_s, menu.max_attempts) == (5.0, 2.0, 3)
    assert (menu.invalid_prompt, menu.timeout_prompt, menu.failover) == ("invalid-entry", "no-entry", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        menu.prompt = "other"


# validate_menu

def test_a_sound_menu_validates():
    validate_menu(make_menu(extensions={"101", "*5"}, failover=NIGHT))
    known = {SALES, SUPPORT_MENU, OPERATOR, ext("101")}
    validate_menu(make_menu(extensions={"101"}, choices={"1": SALES, "9": Target(TargetKind.HANGUP)}),
                  known_targets=known)


@pytest.mark.parametrize("overrides, field", [
    (dict(choices={"A": SALES}), "menus.main.choices.A"),
    (dict(choices={"12": SALES}), "menus.main.choices.12"),
    (dict(choices={"": SALES}), "menus.main.choices."),
    (dict(choices={"1": "queue:sales"}), "menus.main.choices.1"),
    (dict(timeout_s=0), "menus.main.timeout_s"),
    (dict(timeout_s=float("nan")), "menus.main.timeout_s"),
    (dict(inter_digit_s=-1.0), "menus.main.inter_digit_s"),
    (dict(max_attempts=0), "menus.main.max_attempts"),
    (dict(max_attempts=10), "menus.main.max_attempts"),
    (dict(max_attempts=True), "menus.main.max_attempts"),
    (dict(prompt=""), "menus.main.prompt"),
    (dict(invalid_prompt=" "), "menus.main.invalid_prompt"),
    (dict(timeout_prompt=""), "menus.main.timeout_prompt"),
    (dict(operator=None), "menus.main.operator"),
    (dict(extensions={"10#"}), "menus.main.extensions.10#"),
])
def test_bad_menus_name_the_offending_field(overrides, field):
    with pytest.raises(ConfigError) as caught:
        validate_menu(make_menu(**overrides))
    assert caught.value.field == field


def test_unknown_destinations_are_refused_when_targets_are_known():
    known = {SALES, OPERATOR}
    with pytest.raises(ConfigError) as caught:
        validate_menu(make_menu(), known_targets=known)
    assert caught.value.field == "menus.main.choices.2" and "menu:support" in caught.value.message
    with pytest.raises(ConfigError) as caught:
        validate_menu(make_menu(choices={}, failover=NIGHT), known_targets=known)
    assert caught.value.field == "menus.main.failover"
