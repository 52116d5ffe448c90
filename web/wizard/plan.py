"""The call center the wizard builds, as config-store tables.

One route (the number callers reach; lines will map onto routes) → the
business-hours time condition → when open, the main menu (the greeting;
1, 0, silence or a wrong key → the queue; an extension number → that
phone) → the queue; when closed, the "closed" announcement or the shop's
voicemail.

Validation is the firmware's own (``schema.validate`` on the document as
it would be written), so every refusal names a field the wizard's forms
can point at.
"""
from __future__ import annotations

from firmware.config import schema
from firmware.config.store import ConfigStore

TC_ID, MENU_ID, QUEUE_ID, MAILBOX_ID = "hours", "main", "main", "shop"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS = {d: ["09:00-18:00"] for d in DAYS[:5]}
STRATEGIES = ("rrmemory", "leastrecent", "fewestcalls", "ringall")
RECORDING = ("never", "on-demand", "always")
DEFAULT_QUEUE = {"name": "", "strategy": "rrmemory", "members": None, "ring_timeout_s": 20, "wrapup_s": 10,
                 "recording": "never", "route_number": "600"}


def wizard_tables(draft: dict, extensions: list[str], timezone: str) -> dict[str, list[dict]]:
    q = {**DEFAULT_QUEUE, **(draft.get("queue") or {})}
    members = q["members"] if q["members"] is not None else extensions
    members = [m for m in members if m in extensions]
    voicemail = draft.get("closed") == "voicemail"
    greeting = bool(draft.get("greeting"))
    queue_target = f"queue:{QUEUE_ID}"
    queue = {"id": QUEUE_ID, "name": q["name"], "members": members, "strategy": q["strategy"],
             "ring_timeout_s": q["ring_timeout_s"], "wrapup_s": q["wrapup_s"], "recording": q["recording"],
             "failover": f"voicemail:{MAILBOX_ID}" if voicemail else "announcement:not-available",
             "join_empty": False}
    menu = {"id": MENU_ID, "prompt": "greeting" if greeting else "welcome",
            "choices": {"1": queue_target}, "operator": queue_target, "direct_dial": True,
            # With the owner's own greeting nobody was told to press anything:
            # a short silence (or any wrong key) goes straight to the queue.
            "timeout_s": 3 if greeting else 5, "max_attempts": 1 if greeting else 3}
    condition = {"id": TC_ID, "timezone": timezone, "hours": draft.get("hours", DEFAULT_HOURS),
                 "holidays": draft.get("holidays", []), "extra_workdays": draft.get("extra_workdays", []),
                 "open": f"menu:{MENU_ID}",
                 "closed": f"voicemail:{MAILBOX_ID}" if voicemail else "announcement:closed", "override": None}
    route = {"number": q["route_number"], "target": f"time_condition:{TC_ID}", "name": q["name"]}
    return {"routes": [route], "menus": [menu], "queues": [queue], "time_conditions": [condition],
            "voicemail": [{"id": MAILBOX_ID, "name": q["name"]}] if voicemail else []}


def _key(table: str, row: dict):
    return row.get("number") if table == "routes" else row.get("id")


def merged(existing: dict[str, list[dict]], ours: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Existing tables with the wizard's rows put in (same id/number replaced)."""
    out = {}
    for table in ConfigStore.CALLCENTER_TABLES:
        mine = ours.get(table, [])
        keys = {_key(table, r) for r in mine}
        kept = [r for r in existing.get(table, []) if _key(table, r) not in keys]
        if table == "voicemail":          # keep the PIN of a mailbox that exists already
            old = {r.get("id"): r for r in existing.get(table, [])}
            mine = [{**old.get(r["id"], {}), **r} for r in mine]
        out[table] = kept + mine
    return out


def tables_for(store: ConfigStore, draft: dict, timezone: str) -> dict[str, list[dict]]:
    extensions = [e["number"] for e in store.extensions()]
    return merged(store.callcenter_tables(), wizard_tables(draft, extensions, timezone))


def validate(store: ConfigStore, draft: dict, timezone: str) -> None:
    """Raise ``ConfigError`` (naming the field) unless the draft would be accepted."""
    doc = store.read_document()
    for name, rows in tables_for(store, draft, timezone).items():
        doc[name] = {str(i): dict(r) for i, r in enumerate(rows, start=1)}
    schema.validate(doc)


def put(tables: dict[str, list[dict]], draft: dict, extensions: list[str], timezone: str) -> None:
    """Put the wizard's rows into ``tables`` (in place): for ``ConfigStore.update_callcenter``."""
    tables.update(merged(tables, wizard_tables(draft, extensions, timezone)))


def apply(store: ConfigStore, draft: dict, timezone: str) -> None:
    """Write the wizard's call center into the tables as they are under the store's lock."""
    store.update_callcenter(
        lambda tables: put(tables, draft, [e["number"] for e in store.extensions()], timezone))
