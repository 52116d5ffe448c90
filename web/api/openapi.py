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
