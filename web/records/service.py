"""What the history, recordings and voicemail pages and the API share:
one call of each per request, with the role already applied."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from flask import Response, send_file, stream_with_context, url_for

from web.auth.users import User
from web.box import Box, get_calllog
from web.records import files, history


def history_page(args, user: User, box: Box, *, recorded: bool = False) -> dict:
    """One page of calls: ``{"filters", "page", "per_page", "total", "pages", "calls"}``.

    :raises ConfigError: a refused filter; :raises Forbidden: an agent asking for others' calls.
    """
    filters = history.parse_filters(args, user, box, recorded=recorded)
    page, per_page = history.paging(args)
    return _page(filters, page, per_page, user, box)


def first_page(user: User, box: Box, *, recorded: bool = False) -> dict:
    return _page(history.default_filters(user, box, recorded=recorded), 1, history.PER_PAGE, user, box)


def _page(filters: history.Filters, page: int, per_page: int, user: User, box: Box) -> dict:
    calllog = get_calllog()
    total = calllog.history_count(filters.query)
    rows = calllog.history(filters.query, limit=per_page, offset=(page - 1) * per_page)
    names = history.Names.of(box)
    calls = [history.present(r, names, user) for r in rows]
    if filters.query.recorded:
        for call, rec in zip(calls, rows):
            call["recording_on_disk"] = files.recording_of(box, rec) is not None
    return {"filters": filters, "page": page, "per_page": per_page, "total": total,
            "pages": max(1, -(-total // per_page)), "calls": calls, "names": names}


def history_json(result: dict) -> dict:
    return {"filters": result["filters"].values, "page": result["page"], "per_page": result["per_page"],
            "total": result["total"], "pages": result["pages"], "calls": result["calls"]}


def csv_response(args, user: User, box: Box) -> Response:
    filters = history.parse_filters(args, user, box)
    chunks = history.csv_chunks(box.paths.data / "records.db", filters.query, history.Names.of(box),
                                box.state.zone())
    name = f"calls-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _audio(path: Path, name: str, download: bool) -> Response:
    response = send_file(path, mimetype="audio/wav", as_attachment=download, download_name=name,
                         conditional=True, max_age=0)
    response.headers["Cache-Control"] = "no-store"      # private: never kept by a proxy or the browser cache
    return response


def recording_response(filename: str, user: User, box: Box, download: bool) -> Response | None:
    """The recording named ``<uid>.wav`` (ranges supported, so the player can seek); None: 404."""
    found = files.find_recording(box, get_calllog(), user, filename)
    if found is None:
        return None
    rec, path = found
    when = datetime.fromtimestamp(rec["arrived"], timezone.utc).astimezone(box.state.zone())
    caller = "".join(ch for ch in rec["caller"] if ch.isalnum() or ch == "+")[:32]
    return _audio(path, f"{when:%Y%m%d-%H%M%S}-{caller or 'unknown'}-{rec['uid']}.wav", download)


def message_response(mailbox: str, filename: str, user: User, box: Box, download: bool) -> Response | None:
    found = files.find_message(box, user, mailbox, filename)
    if found is None:
        return None
    message, path = found
    return _audio(path, f"voicemail-{mailbox}-{message.id}.wav", download)


def voicemail_listing(user: User, box: Box, mailbox: str | None) -> dict | None:
    """``{"mailboxes": [{id, name}], "mailbox", "messages": [...]}``; the first mailbox if none is
    named; None if this user may not open the one named."""
    boxes = files.mailboxes(box, user)
    if mailbox is None:
        mailbox = next(iter(boxes), None)
    found = files.messages(box, user, mailbox) if mailbox else []
    if found is None:
        return None
    return {"mailboxes": [{"id": k, "name": v} for k, v in boxes.items()], "mailbox": mailbox,
            "messages": [dict(m.as_dict(), audio_url=url_for("api.voicemail_audio", number=mailbox,
                                                              filename=f"{m.id}.wav"))
                         for m in found]}
