"""The OpenAPI 3.1 description of the JSON API (served at /api/openapi.json).

Kept next to the views; a test checks that every API route is described
here with its methods, and nothing else.
"""
from __future__ import annotations

from firmware import __version__

_ERROR = {"description": "refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_CSRF = [{"$ref": "#/components/parameters/CSRF"}]


def _ok(description: str, schema: dict | None = None) -> dict:
    body = {"description": description}
    if schema is not None:
        body["content"] = {"application/json": {"schema": schema}}
    return body


def _errors(*codes: int) -> dict:
    text = {400: "a value was refused (field named)", 401: "not logged in", 403: "not allowed for this role",
            404: "no such thing", 409: "the core refused", 503: "the core is not reachable, or setup is not done"}
    return {str(c): {**_ERROR, "description": text[c]} for c in codes}


def _ext_param() -> dict:
    return {"name": "number", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[1-9][0-9]{1,5}$"}}


def _records_paths() -> dict:
    """Call history, recordings, voicemail and reports (web/records, web/reports)."""
    obj = {"type": "object"}
    wav = {"description": "the audio (WAV); Range requests supported",
           "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}}
    date = {"type": "string", "format": "date"}
    filters = [
        {"name": "from", "in": "query", "schema": date, "description": "first day (shop's time zone); default 6 days "
                                                                      "before `to`"},
        {"name": "to", "in": "query", "schema": date, "description": "last day, included; default today"},
        {"name": "number", "in": "query", "schema": {"type": "string", "pattern": "^[0-9+*#]{1,32}$"},
         "description": "all or part of the caller's number or of the number dialled"},
        {"name": "agent", "in": "query", "schema": {"type": "string"}, "description": "agents: only their own"},
        {"name": "queue", "in": "query", "schema": {"type": "string"}},
        {"name": "line", "in": "query", "schema": {"type": "string"}},
        {"name": "disposition", "in": "query", "schema": {"enum": [
            "answered", "abandoned-in-queue", "abandoned-in-ivr", "exit-key", "timeout", "voicemail", "no-agents",
            "refused", "hangup", "busy", "no-answer", "failed"]}}]
    download = {"name": "download", "in": "query", "schema": {"enum": ["1"]},
                "description": "as an attachment (else inline, for an audio element)"}
    mailbox = {"name": "number", "in": "path", "required": True, "description": "the mailbox (an extension or a "
               "named mailbox)", "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"}}
    message = {"name": "filename", "in": "path", "required": True, "description": "`<message id>.wav`",
               "schema": {"type": "string"}}
    return {
        "/api/history": {"get": {
            "summary": "Call history with filters and paging, newest first (agents: their own calls only)",
            "parameters": [*filters,
                           {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                           {"name": "per_page", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
            "responses": {"200": _ok("calls", {"type": "object", "properties": {
                "filters": obj, "page": {"type": "integer"}, "per_page": {"type": "integer"},
                "total": {"type": "integer"}, "pages": {"type": "integer"},
                "calls": {"type": "array", "items": {"$ref": "#/components/schemas/Call"}}}}),
                **_errors(400, 401, 403)}}},
        "/api/history.csv": {"get": {
            "summary": "The same calls as CSV for Excel (UTF-8 with BOM, headers in the page language; cells "
                       "starting with = + - @ get a leading apostrophe)",
            "parameters": filters,
            "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                          **_errors(400, 401, 403)}}},
        "/api/recordings/{filename}": {"get": {
            "summary": "A call's recording, stereo (caller left, agent right), named by the call: `<uid>.wav` "
                       "(agents: calls they answered only)",
            "parameters": [{"name": "filename", "in": "path", "required": True, "description": "`<call uid>.wav`",
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}\\.wav$"}}, download],
            "responses": {"200": wav, **_errors(401, 404)}}},
        "/api/voicemail": {"get": {
            "summary": "Mailboxes one may open and the messages of one (agents: their extension's)",
            "parameters": [{"name": "mailbox", "in": "query", "schema": {"type": "string"},
                            "description": "default: the first one"}],
            "responses": {"200": _ok("messages", {"type": "object", "properties": {
                "mailboxes": {"type": "array", "items": obj}, "mailbox": {"type": ["string", "null"]},
                "messages": {"type": "array", "items": obj}}}), **_errors(401, 404)}}},
        "/api/voicemail/{number}/{filename}": {
            "get": {"summary": "A voicemail message's audio",
                    "parameters": [mailbox, message, download],
                    "responses": {"200": wav, **_errors(401, 404)}},
            "delete": {"summary": "Delete a voicemail message (agents: in their own mailbox)",
                       "parameters": [*_CSRF, mailbox, message],
                       "responses": {"200": _ok("deleted", obj), **_errors(401, 404)}}},
        "/api/reports": {"get": {
            "summary": "Calls per hour (day of week x hour), service level and abandon rate per day, queues and "
                       "agents over a range of days (default the last 28)",
            "parameters": [{"name": "from", "in": "query", "schema": date},
                           {"name": "to", "in": "query", "schema": date}],
            "responses": {"200": _ok("report", obj), **_errors(400, 401, 403)}}},
    }


def _lines_system_paths() -> dict:
    """Lines, trunks and texts (web/lines); system, backup and restore (web/system)."""
    obj = {"type": "object"}
    line_id = {"name": "id", "in": "path", "required": True, "description": "the line's id, e.g. gsm1",
               "schema": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,15}$"}}
    line = {"type": "object", "description": "as in the config's lines table (README.md, Phone lines). A password "
            "or pin left out or \"\" keeps the stored one; null removes it. Never returned: password_set / "
            "pin_set say whether one is stored.", "properties": {
                "kind": {"enum": ["gsm", "fxo", "sip"]}, "name": {"type": "string"}, "route": {"type": "string"},
                "enabled": {"type": "boolean"}, "device": {"type": "string"},
                "vendor": {"enum": ["sim7600", "sim800", "ec25"]}, "pin": {"type": ["string", "null"]},
                "pcm_device": {"type": "string"}, "sound_device": {"type": "string"},
                "power_pin": {"type": ["integer", "null"]}, "rx_gain_db": {"type": "number"},
                "tx_gain_db": {"type": "number"}, "server": {"type": "string"}, "username": {"type": "string"},
                "password": {"type": ["string", "null"]}, "register": {"type": "boolean"},
                "allow_from": {"type": "array", "items": {"type": "string"}}}}
    return {
        "/api/lines": {"get": {
            "summary": "Lines with the core's live state (state, detail, signal, call, recovery), outbound routes "
                       "and recent line events; no password or PIN",
            "responses": {"200": _ok("lines", {"type": "object", "properties": {
                "core": obj, "lines": {"type": "array", "items": obj},
                "outbound_routes": {"type": "array", "items": obj}, "events": {"type": "array", "items": obj}}}),
                **_errors(401, 403)}}},
        "/api/lines/{id}": {
            "put": {"summary": "Add a line, or change one (its kind stays); validated with the whole config, "
                               "nothing saved when refused",
                    "parameters": [*_CSRF, line_id],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": line}}},
                    "responses": {"200": _ok("changed", obj), "201": _ok("added", obj),
                                  **_errors(400, 401, 403)}},
            "delete": {"summary": "Remove a line (and take it out of the outbound routes that tried it)",
                       "parameters": [*_CSRF, line_id],
                       "responses": {"200": _ok("removed", obj), **_errors(400, 401, 403, 404)}}},
        "/api/sms": {
            "get": {"summary": "Texts received and sent, newest first",
                    "parameters": [{"name": "limit", "in": "query",
                                    "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
                    "responses": {"200": _ok("texts", {"type": "object", "properties": {
                        "texts": {"type": "array", "items": obj}}}), **_errors(400, 401, 403, 503)}},
            "post": {"summary": "Send a text through a line (or the first working one)",
                     "parameters": _CSRF,
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["number", "text"], "properties": {
                             "number": {"type": "string", "pattern": "^\\+?[0-9]{1,32}$"},
                             "text": {"type": "string", "minLength": 1, "maxLength": 1000},
                             "line": {"type": "string"}}}}}},
                     "responses": {"200": _ok("queued", {"type": "object", "properties": {
                         "id": {"type": "integer"}, "line": {"type": "string"}}}),
                         **_errors(400, 401, 403, 409, 503)}}},
        "/api/system": {"get": {
            "summary": "The box's address, platform, time and time zone, storage (recordings, free disk), core "
                       "and proxy state, and the last 200 log lines (logs.lines null when unavailable)",
            "responses": {"200": _ok("system", obj), **_errors(401, 403)}}},
        "/api/system/restart": {"post": {
            "summary": "Restart the core: once no call is up (idle, the default; calls are answered "
                       "meanwhile), now (calls in progress are cut), or cancel a pending restart",
            "parameters": _CSRF,
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"when": {"enum": ["idle", "now", "cancel"]}}}}}},
            "responses": {"200": _ok("restart asked, or cancelled", obj), **_errors(400, 401, 403, 409, 503)}}},
        "/api/backup": {"get": {
            "summary": "Download the whole configuration as a backup signed with this box's key "
                       "(web/system/backup.py); with a passphrase: the system page",
            "responses": {"200": _ok("backup (attachment)", obj), **_errors(401, 403)}}},
        "/api/restore": {"post": {
            "summary": "Restore a backup: HMAC checked, everything validated, then all replaced or nothing; "
                       "every session ends. The body may be up to 200 MB (every other request: 21 MB).",
            "parameters": [*_CSRF, {"name": "X-Backup-Passphrase", "in": "header", "required": False,
                                    "schema": {"type": "string"},
                                    "description": "for a backup made with a passphrase: the passphrase as "
                                                   "percent-encoded UTF-8 (JavaScript's encodeURIComponent; "
                                                   "`%` itself as `%25`), so it may hold any character"}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "description": "the backup file as downloaded"}}}},
            "responses": {"200": _ok("restored", {"type": "object", "properties": {
                "restored": {"type": "string"}, "users": {"type": "array", "items": {"type": "string"}},
                "files": {"type": "integer"}, "applied": {"type": "boolean"}}}), **_errors(400, 401, 403),
                "413": {**_ERROR, "description": "the body is larger than 200 MB"}}}},
    }


def _service_call_paths() -> dict:
    """Calls the box places for the owner (web/servicecalls.py, the core's firmware/core/service_calls.py)."""
    job = {"type": "object", "description": "a call the box places; poll GET /api/service-calls/{id} until "
           "finished", "properties": {
               "id": {"type": "string"}, "kind": {"enum": ["record-prompt", "test-call"]},
               "target": {"type": "string", "description": "the extension rung, or the number called"},
               "state": {"type": "string", "description": "calling, recording or playing, saving, then saved or "
                         "done, or 'failed: why'"},
               "name": {"type": "string"}, "language": {"type": "string"}, "line": {"type": "string"},
               "finished": {"type": "boolean"}, "ok": {"type": "boolean"},
               "label": {"type": "string", "description": "the state in the page's language"}}}
    started = {"description": "the call is placed", "content": {"application/json": {"schema": job}}}
    job_id = {"name": "id", "in": "path", "required": True, "description": "the job's id, e.g. record-prompt-1",
              "schema": {"type": "string"}}
    line_id = {"name": "id", "in": "path", "required": True, "description": "the line's id, e.g. gsm1",
               "schema": {"type": "string"}}
    return {
        "/api/prompts/record": {"post": {
            "summary": "Record a prompt by phone: the box rings the extension, beeps and records until # or "
                       "hang-up, then installs it as the custom prompt DATA/prompts/custom/{language}/{name}.wav "
                       "(the greeting: name greeting, in each language wanted)",
            "parameters": _CSRF,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["extension", "name", "language"], "properties": {
                    "extension": {"type": "string", "pattern": "^[1-9][0-9]{1,5}$"},
                    "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                    "language": {"enum": ["en", "zh_CN"]}}}}}},
            "responses": {"202": started, **_errors(400, 401, 403, 409, 503)}}},
        "/api/lines/{id}/test-call": {"post": {
            "summary": "Test a line: the box calls the number (the owner's mobile) through it and plays its test "
                       "message",
            "parameters": [*_CSRF, line_id],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["number"], "properties": {
                    "number": {"type": "string", "pattern": "^\\+?[0-9]{1,32}$"}}}}}},
            "responses": {"202": started, **_errors(400, 401, 403, 404, 409, 503)}}},
        "/api/service-calls/{id}": {"get": {
            "summary": "The state of a call the box places (the core keeps the last 20)",
            "parameters": [job_id],
            "responses": {"200": _ok("the job", job), **_errors(401, 403, 404, 503)}}},
    }


def _callcenter_paths() -> dict:
    """IVR menus, queues, business hours and inbound routes (web/callcenter/api.py)."""
    from web.callcenter.api import openapi_paths
    return openapi_paths()


def spec() -> dict:
    obj = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "SmallPBX box API", "version": __version__,
                 "description": "Session-cookie auth (log in at /login). Every POST/DELETE needs the "
                                "X-CSRFToken header; GET /api/session returns the token. Agents see only "
                                "their own status and calls; everything else is for the admin."},
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "session"}},
            "parameters": {"CSRF": {"name": "X-CSRFToken", "in": "header", "required": True,
                                    "schema": {"type": "string"}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"type": "string"}, "field": {"type": "string"}}},
                "SipAccount": {"type": "object", "properties": {
                    "number": {"type": "string"}, "name": {"type": "string"}, "password": {"type": "string"},
                    "server": {"type": "string"}, "port": {"type": "integer"}, "realm": {"type": "string"},
                    "uri": {"type": "string"}, "text": {"type": "string"}}},
                "WebLogin": {"type": ["object", "null"], "properties": {
                    "username": {"type": "string"}, "password": {"type": "string"}}},
                "Call": {"type": "object", "properties": {
                    k: {"type": ["string", "number", "null"]} for k in (
                        "uid", "arrived", "caller", "line", "queue", "answered", "ended", "agent", "wait_s",
                        "talk_s", "disposition")}},
            },
        },
        "security": [{"session": []}],
        "paths": {
            **_callcenter_paths(),
            "/api/openapi.json": {"get": {"summary": "This document", "security": [],
                                          "responses": {"200": _ok("OpenAPI document", obj)}}},
            "/api/session": {"get": {"summary": "Who is logged in, and the CSRF token for changes",
                                     "responses": {"200": _ok("session", {"type": "object", "properties": {
                                         "user": {"type": "string"}, "role": {"enum": ["admin", "agent"]},
                                         "extension": {"type": ["string", "null"]},
                                         "language": {"enum": ["en", "zh"]}, "csrf_token": {"type": "string"},
                                         "setup_done": {"type": "boolean"}}}), **_errors(401)}}},
            "/api/status": {"get": {
                "summary": "Live state: for the admin lines, agents, queues, callers waiting, calls, today's "
                           "numbers; for an agent its own state and calls. core.reachable=false when the core "
                           "is down (then from the configuration and the call records).",
                "responses": {"200": _ok("live state", obj), **_errors(401)}}},
            "/api/panel": {"get": {"summary": "The front panel: page, LED modes and the display as PNG (base64)",
                                   "responses": {"200": _ok("panel", {"type": "object", "properties": {
                                       "page": {"type": "string"}, "leds": obj, "display": {"type": "boolean"},
                                       "png_base64": {"type": "string"}}}), **_errors(401, 403, 409, 503)}}},
            "/api/calls": {"get": {
                "summary": "Call records of one day (agents: their own only)",
                "parameters": [
                    {"name": "day", "in": "query", "schema": {"type": "string", "format": "date"}},
                    {"name": "agent", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
                "responses": {"200": _ok("calls", {"type": "object", "properties": {
                    "calls": {"type": "array", "items": {"$ref": "#/components/schemas/Call"}}}}),
                    **_errors(400, 401, 403)}}},
            **_records_paths(),
            **_lines_system_paths(),
            **_service_call_paths(),
            "/api/agents/{extension}/{action}": {"post": {
                "summary": "Log an agent in or out, pause or unpause (agents: themselves only)",
                "parameters": [*_CSRF,
                               {"name": "extension", "in": "path", "required": True, "schema": {"type": "string"}},
                               {"name": "action", "in": "path", "required": True,
                                "schema": {"enum": ["login", "logout", "pause", "unpause"]}}],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"reason": {"type": "string", "maxLength": 32}}}}}},
                "responses": {"200": _ok("new state", {"type": "object", "properties": {
                    "extension": {"type": "string"}, "state": {"type": "string"}}}),
                    **_errors(400, 401, 403, 404, 409, 503)}}},
            "/api/time-conditions/{id}/override": {"post": {
                "summary": "Day/night: force a time condition open or closed, or back to its hours",
                "parameters": [*_CSRF, {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["mode"],
                    "properties": {"mode": {"enum": ["open", "closed", "auto"]}}}}}},
                "responses": {"200": _ok("override set", obj), **_errors(400, 401, 403, 409)}}},
            "/api/extensions": {
                "get": {"summary": "Extensions, whether each is registered, its web login and queues",
                        "responses": {"200": _ok("extensions", obj), **_errors(401, 403)}},
                "post": {"summary": "Create an extension; its SIP password (and web login) are returned once",
                         "parameters": _CSRF,
                         "requestBody": {"required": True, "content": {"application/json": {"schema": {
                             "type": "object", "required": ["number"], "properties": {
                                 "number": {"type": "string", "pattern": "^[1-9][0-9]{1,5}$"},
                                 "name": {"type": "string", "maxLength": 64},
                                 "web_login": {"type": "boolean"}}}}}},
                         "responses": {"201": _ok("created", {"type": "object", "properties": {
                             "account": {"$ref": "#/components/schemas/SipAccount"},
                             "web_login": {"$ref": "#/components/schemas/WebLogin"},
                             "applied": {"type": "boolean"}}}), **_errors(400, 401, 403)}}},
            "/api/extensions/{number}": {"delete": {
                "summary": "Remove an extension, its queue memberships and its web login",
                "parameters": [*_CSRF, _ext_param()],
                "responses": {"200": _ok("removed", obj), **_errors(400, 401, 403)}}},
            "/api/extensions/{number}/password": {"post": {
                "summary": "A new SIP password, returned once",
                "parameters": [*_CSRF, _ext_param()],
                "responses": {"200": _ok("new password", {"type": "object", "properties": {
                    "account": {"$ref": "#/components/schemas/SipAccount"}}}), **_errors(400, 401, 403)}}},
            "/api/extensions/{number}/web-login": {
                "post": {"summary": "Make the agent's web login, or give it a new password (returned once)",
                         "parameters": [*_CSRF, _ext_param()],
                         "responses": {"200": _ok("login", {"type": "object", "properties": {
                             "web_login": {"$ref": "#/components/schemas/WebLogin"}}}), **_errors(400, 401, 403)}},
                "delete": {"summary": "Remove the agent's web login",
                           "parameters": [*_CSRF, _ext_param()],
                           "responses": {"200": _ok("removed", obj), **_errors(401, 403, 404)}}},
        },
    }
