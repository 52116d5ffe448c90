import copy

import pytest

from firmware.config import extensions
from firmware.config.callcenter import build
from firmware.config.store import ConfigStore
from firmware.errors import ConfigError
from firmware.telephony.queues import Strategy
from firmware.telephony.targets import Target, TargetKind

TABLES = {
    "routes": [{"number": "600", "target": "menu:main", "name": "Shop"}],
    "menus": [{"id": "main", "prompt": "welcome", "choices": {"1": "queue:sales", "2": "menu:info"},
               "operator": "queue:sales"},
              {"id": "info", "prompt": "info", "choices": {"1": "announcement:hours"}, "operator": "queue:sales"}],
    "queues": [{"id": "sales", "members": ["201", "202"], "strategy": "leastrecent", "wrapup_s": 5,
                "failover": "hangup", "exit_key": "1", "exit_target": "hangup"}],
}


@pytest.fixture
def store(tmp_path):
    s = ConfigStore(tmp_path).open()
    extensions.add(s, "201", "A", "Agent-pass-aaax")
    extensions.add(s, "202", "B", "Agent-pass-bbbx")
    return s


def test_valid_tables_build_the_core_objects(store):
    store.replace_callcenter(TABLES)
    cc = build(store.read_document())
    assert cc.routes == {"600": Target(TargetKind.MENU, "main")}
    assert cc.queues["sales"].strategy is Strategy.LEASTRECENT and cc.queues["sales"].members == ("201", "202")
    assert cc.menus["main"].choices["2"] == Target(TargetKind.MENU, "info")
    assert cc.menus["main"].extensions == frozenset({"201", "202"})
    assert store.callcenter_tables()["queues"][0]["id"] == "sales"


@pytest.mark.parametrize("change,field", [
    (lambda t: t["queues"][0].update(strategy="random"), "queues.sales.strategy"),
    (lambda t: t["queues"][0].update(members=["201", "299"]), "queues.sales.members"),
    (lambda t: t["queues"][0].update(wrapup_s=-1), "queues.sales.wrapup_s"),
    (lambda t: t["queues"][0].update(colour="red"), "queues.sales.colour"),
    (lambda t: t["menus"][0]["choices"].update({"1": "queue:support"}), "menus.main.choices.1"),
    (lambda t: t["menus"][0]["choices"].update({"x": "hangup"}), "menus.main.choices.x"),
    (lambda t: t["menus"][0].update(prompt="../../etc/passwd"), "menus.main.prompt"),
    (lambda t: t["routes"][0].update(target="menu:nope"), "routes.600.target"),
    (lambda t: t["routes"].append({"number": "201", "target": "hangup"}), "routes.201.number"),
    (lambda t: t["routes"][0].update(target="pager:1"), "routes.600.target"),
])
def test_bad_tables_are_refused_by_field_and_nothing_saved(store, change, field):
    tables = copy.deepcopy(TABLES)
    change(tables)
    before = store.path.read_bytes()
    with pytest.raises(ConfigError) as err:
        store.replace_callcenter(tables)
    assert err.value.field == field, err.value
    assert store.path.read_bytes() == before


def test_removing_an_extension_that_a_queue_uses_is_refused(store):
    store.replace_callcenter(TABLES)
    with pytest.raises(ConfigError) as err:
        extensions.remove(store, "202")
    assert err.value.field == "queues.sales.members"
    assert extensions.get(store, "202")


def test_time_conditions_build_and_name_bad_fields(store):
    tables = copy.deepcopy(TABLES)
    tables["time_conditions"] = [{"id": "hours", "timezone": "Asia/Shanghai",
                                  "hours": {"mon": ["09:00-18:00"]}, "holidays": ["2026-10-01"],
                                  "open": "menu:main", "closed": "announcement:closed"}]
    tables["routes"].append({"number": "800", "target": "time_condition:hours"})
    store.replace_callcenter(tables)
    cc = build(store.read_document())
    assert cc.routes["800"] == Target(TargetKind.TIME_CONDITION, "hours")
    store.set_override("hours", "closed")
    assert build(store.read_document()).time_conditions["hours"].override.mode == "closed"
    for change, field in [
        (lambda t: t["time_conditions"][0].update(hours={"mon": ["18:00-09:00"]}), "time_conditions.hours.hours.mon"),
        (lambda t: t["time_conditions"][0].update(holidays=["2026-13-01"]), "time_conditions.hours.holidays"),
        (lambda t: t["time_conditions"][0].update(open="menu:none"), "time_conditions.hours.open"),
        (lambda t: t["time_conditions"][0].update(timezone="Mars/Base"), "time_conditions.hours.timezone"),
        (lambda t: t["routes"][1].update(target="time_condition:other"), "routes.800.target"),
    ]:
        bad = copy.deepcopy(tables)
        change(bad)
        with pytest.raises(ConfigError) as err:
            store.replace_callcenter(bad)
        assert err.value.field == field, err.value


def test_named_mailboxes_load_and_keep_their_pins(store):
    from firmware.records.voicemail import hash_pin
    tables = copy.deepcopy(TABLES)
    tables["voicemail"] = [{"id": "shop", "name": "After hours"}]
    tables["queues"][0]["failover"] = "voicemail:shop"
    store.replace_callcenter(tables)
    store.set_mailbox_pin("shop", hash_pin("4827"))
    store.set_mailbox_pin("201", hash_pin("5938"))
    store.replace_callcenter(tables)          # loading again keeps both PINs
    boxes = build(store.read_document()).mailboxes
    assert boxes["shop"].startswith("pbkdf2$") and boxes["201"].startswith("pbkdf2$")
    assert boxes["202"] is None
    bad = copy.deepcopy(tables)
    bad["voicemail"] = [{"id": "shop", "pin": "1234"}]
    with pytest.raises(ConfigError) as err:
        store.replace_callcenter(bad)
    assert err.value.field == "voicemail.shop.pin"
    bad = copy.deepcopy(tables)
    bad["queues"][0]["failover"] = "voicemail:nobody"
    with pytest.raises(ConfigError) as err:
        store.replace_callcenter(bad)
    assert err.value.field == "queues.sales.failover"


def test_the_readme_example_loads(store):
    import json
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = json.loads(re.search(r"```json\n(.*?)```", readme, re.S).group(1))
    store.replace_callcenter(example)
    cc = build(store.read_document())
    assert cc.routes["600"].kind is TargetKind.TIME_CONDITION and "shop" in cc.mailboxes


def test_update_callcenter_keeps_what_another_writer_stored_meanwhile(tmp_path):
    from firmware.config.store import ConfigStore
    store = ConfigStore(tmp_path).open()
    store.replace_callcenter({"routes": [{"number": "600", "target": "hangup"}],
                              "time_conditions": [{"id": "hours", "open": "hangup", "closed": "hangup",
                                                   "hours": {"mon": ["09:00-18:00"]}}]})
    import threading
    t = None

    def mutate(tables):
        nonlocal t
        t = threading.Thread(target=store.set_override, args=("hours", "closed"))
        t.start()            # the core stores an override meanwhile: it waits for the lock
        tables["routes"][0]["name"] = "Shop"
    store.update_callcenter(mutate)
    t.join(10)
    tables = store.callcenter_tables()
    assert tables["routes"][0]["name"] == "Shop"
    assert tables["time_conditions"][0]["override"] == "closed"
