"""Call history, recordings, voicemail and reports: the pages and the API on
real data (call records written by RecordStore, stereo WAVs by Recordings,
messages by Voicemail), the role of an agent, downloads that take only
opaque ids and never leave their folder, CSV for Excel, Chinese."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import wave
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from firmware.config.store import ConfigStore
from firmware.records.recordings import Recordings
from firmware.records.store import RecordStore
from firmware.records.voicemail import Voicemail
from firmware.telephony.cdr import CallRecord, Disposition, Offer
from firmware.telephony.queues import QueueEvent
from webtools import login, post, run_wizard, token

SHOP = ZoneInfo("Asia/Shanghai")        # the wizard's time zone in run_wizard
SECRET = b"TOP-SECRET-OUTSIDE-THE-RECORDINGS"


def at(day: datetime, hour: int, minute: int = 0, second: int = 0) -> float:
    """Epoch seconds of a local shop time on ``day``."""
    return day.replace(hour=hour, minute=minute, second=second, microsecond=0).timestamp()


def today() -> datetime:
    return datetime.now(SHOP).replace(hour=0, minute=0, second=0, microsecond=0)


def write_wav(path: Path, seconds: float, *, channels: int = 1, freq: int = 440) -> None:
    import math
    import struct
    rate = 8000
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * n / rate))) * channels
                      for n in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def record_call(data_dir: Path, uid: str, arrived: float, caller: str, *, agent: str = "", queue: str = "main",
                line: str = "gsm1", wait: float | None = 8.0, talk: float = 60.0, wrapup: float = 5.0,
                disposition: Disposition | None = None, offers: tuple = (), dialed: str = "",
                recording_seconds: float = 0.0, ivr: tuple = ()) -> CallRecord:
    """A call as the core writes it: the record, its queue_log events, and (if asked) its recording.

    ``agent`` set: answered by that agent after ``wait`` s; else abandoned after ``wait`` s.
    ``offers``: ``(agent, outcome)`` before the answer (noanswer, busy, declined, withdrawn).
    """
    rec = CallRecord(uid=uid, arrived=arrived, caller=caller, line=line, route="600" if not dialed else "outbound:x",
                     ivr_choices=list(ivr), queue=queue, dialed=dialed, wrapup_s=wrapup if agent else 0.0)
    events = []
    if queue:
        rec.queue_entered = arrived + 2
        events.append(("ENTERQUEUE", "", {"caller": caller, "position": 1}, rec.queue_entered))
    for i, (who, outcome) in enumerate(offers):
        rec.offers.append(Offer(who, arrived + 3 + i, outcome))
        if outcome != "withdrawn":
            events.append(("RINGNOANSWER", who, {"reason": outcome}, arrived + 3 + i))
    if agent:
        rec.agent = agent
        if dialed:                                      # an extension calling out
            rec.answered = arrived + 5
        else:
            rec.answered = (rec.queue_entered or arrived) + wait
            rec.offers.append(Offer(agent, rec.answered - 1, "answered"))
            if queue:
                events.append(("CONNECT", agent, {"wait": wait}, rec.answered))
        rec.ended = rec.answered + talk
        if queue and not dialed:
            events.append(("COMPLETECALLER", agent, {"talk": talk}, rec.ended))
        rec.disposition = disposition or Disposition.ANSWERED
    else:
        rec.ended = (rec.queue_entered or arrived) + (wait or 0)
        rec.disposition = disposition or Disposition.ABANDONED_QUEUE
        if queue:
            events.append(("ABANDON", "", {"position": 1, "wait": wait}, rec.ended))
    if recording_seconds:
        recordings = Recordings(data_dir / "recordings")
        caller_part, agent_part, name = recordings.parts_for(uid, arrived)
        write_wav(caller_part, recording_seconds, freq=440)
        write_wav(agent_part, recording_seconds, freq=660)
        recordings.finish(caller_part, agent_part).join(10)
        rec.recording = name
    with RecordStore(data_dir / "records.db") as store:
        store.add_call(rec)
        for kind, who, data, when in events:
            store.log_queue_event(QueueEvent(when, queue, uid, who, kind, data))
    return rec


def leave_message(data_dir: Path, mailbox: str, caller: str, when: float, seconds: float = 2.0) -> str:
    vm = Voicemail(data_dir / "voicemail")
    part = vm.new_part(mailbox, caller, when)
    write_wav(part, seconds)
    return vm.finish(part, caller, when).id


def uids(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return [c["uid"] for c in response.json["calls"]]


@pytest.fixture
def shop(client, data_dir):
    """A box after the wizard (extensions 201 Ann and 202 Bo, queue main 'Sales', Shanghai) with calls."""
    shown = run_wizard(client)
    t0, d3, d20 = today(), today() - timedelta(days=3), today() - timedelta(days=20)
    record_call(data_dir, "t-ann", at(t0, 0, 0, 5), "13800000001", agent="201", recording_seconds=1.0)
    record_call(data_dir, "t-bo", at(t0, 0, 1), "13900000002", agent="202", line="sip", recording_seconds=1.0,
                offers=(("201", "noanswer"),))
    record_call(data_dir, "t-lost", at(t0, 0, 2), "13700000003", wait=30.0)
    record_call(data_dir, "t-out", at(t0, 0, 3), "201", agent="201", queue="", dialed="13612345678",
                line="gsm1")
    record_call(data_dir, "d3-late", at(d3, 23, 59, 59), "13800000001", agent="202", queue="vip",
                disposition=Disposition.ANSWERED, offers=(("201", "busy"), ("202", "withdrawn")))
    record_call(data_dir, "d3-ivr", at(d3, 10), "13800009999", agent="", queue="", wait=None,
                disposition=Disposition.ABANDONED_IVR, ivr=("1", "2"))
    record_call(data_dir, "d20", at(d20, 11), "13800000001", agent="201")
    return shown


# -- history -----------------------------------------------------------------------------------
def test_history_filters_return_the_right_rows(client, shop):
    d3 = (today() - timedelta(days=3)).date().isoformat()
    d20 = (today() - timedelta(days=20)).date().isoformat()
    d2 = (today() - timedelta(days=2)).date().isoformat()
    # Default: the last 7 days, newest first; the call 20 days ago is not in it.
    assert uids(client.get("/api/history")) == ["t-out", "t-lost", "t-bo", "t-ann", "d3-late", "d3-ivr"]
    assert uids(client.get(f"/api/history?from={d20}")) == ["t-out", "t-lost", "t-bo", "t-ann", "d3-late",
                                                              "d3-ivr", "d20"]
    # Days are the shop's days, both ends included: 23:59:59 on d3 is in "to=d3", not in "from=d2".
    assert uids(client.get(f"/api/history?from={d3}&to={d3}")) == ["d3-late", "d3-ivr"]
    assert "d3-late" not in uids(client.get(f"/api/history?from={d2}"))
    assert uids(client.get("/api/history?agent=201")) == ["t-out", "t-ann"]
    assert uids(client.get("/api/history?queue=vip")) == ["d3-late"]
    assert uids(client.get("/api/history?line=sip")) == ["t-bo"]
    assert uids(client.get("/api/history?disposition=abandoned-in-queue")) == ["t-lost"]
    assert uids(client.get("/api/history?disposition=abandoned-in-ivr")) == ["d3-ivr"]
    # The number: all or part of the caller's number, or of the number dialled.
    assert uids(client.get("/api/history?number=13800000001")) == ["t-ann", "d3-late"]
    assert uids(client.get("/api/history?number=0001")) == ["t-ann", "d3-late"]
    assert uids(client.get("/api/history?number=1234")) == ["t-out"]
    assert uids(client.get("/api/history?number=138%200000%200001")) == ["t-ann", "d3-late"]   # spaces typed
    assert uids(client.get("/api/history?agent=202&queue=main")) == ["t-bo"]
    assert uids(client.get("/api/history?agent=203")) == []
    # Paging.
    page = client.get("/api/history?per_page=4&page=2").json
    assert (page["total"], page["pages"], page["page"]) == (6, 2, 2)
    assert [c["uid"] for c in page["calls"]] == ["d3-late", "d3-ivr"]
    assert client.get("/api/history?per_page=4&page=9").json["calls"] == []
    # What a row says.
    row = client.get("/api/history?number=13900000002").json["calls"][0]
    assert row["queue_name"] == "Sales" and row["agent_name"] == "Bo" and row["line_name"] == "sip"
    assert row["recording_url"] == "/api/recordings/t-bo.wav" and row["wait_s"] == 8.0 and row["talk_s"] == 60.0
    assert [o["outcome"] for o in row["offers"]] == ["noanswer", "answered"]
    assert client.get("/api/history?number=13700000003").json["calls"][0]["recording_url"] is None


@pytest.mark.parametrize("query,field", [
    ("from=2026-13-01", "from"), ("to=yesterday", "to"), ("from=2026-05-02&to=2026-05-01", "from"),
    ("number=13800000001;DROP", "number"), ("disposition=exploded", "disposition"), ("queue=a%20b", "queue"),
    ("page=x", "page"),
])
def test_history_refuses_bad_filters_naming_the_field(client, shop, query, field):
    response = client.get(f"/api/history?{query}")
    assert response.status_code == 400 and response.json["field"] == field, response.json
    page = client.get(f"/history/?{query}")
    assert page.status_code == 400
    assert f'data-field="{field}"' in page.get_data(as_text=True)


def test_history_page_filters_and_pages(client, shop):
    client.get("/lang/en")
    html = client.get("/history/?agent=202").get_data(as_text=True)
    assert re.findall(r'<tr data-uid="([^"]+)"', html) == ["t-bo", "d3-late"]
    assert "Calls found: 2" in html and 'id="csv" href="/api/history.csv?' in html and "agent=202" in html
    assert '<option value="202" selected>' in html
    html = client.get("/history/?per_page=2").get_data(as_text=True)
    assert re.findall(r'<tr data-uid="([^"]+)"', html) == ["t-out", "t-lost"]
    assert "Page 1 of 3" in html and 'id="next-page"' in html and 'id="prev-page"' not in html
    next_url = re.search(r'id="next-page" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    html = client.get(next_url).get_data(as_text=True)
    assert re.findall(r'<tr data-uid="([^"]+)"', html) == ["t-bo", "t-ann"] and "Page 2 of 3" in html
    html = client.get("/history/?number=555").get_data(as_text=True)
    assert 'id="no-calls"' in html and 'id="csv"' not in html


def test_history_queries_walk_an_index(app, shop):
    from web.calllog import CallLog, CallQuery
    log = CallLog(Path(app.extensions["smallpbx"].paths.data) / "records.db")
    try:
        plan = " ".join(log.history_plan(CallQuery(0, 2e9)))
        assert "USING INDEX calls_arrived" in plan and "TEMP B-TREE" not in plan, plan
        plan = " ".join(log.history_plan(CallQuery(0, 2e9, agent="201")))
        assert "USING INDEX calls_agent" in plan, plan
    finally:
        log.close()


# -- CSV ------------------------------------------------------------------------------------------
def _csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]          # UTF-8 byte-order mark: Excel reads UTF-8
    return list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))


def test_csv_export_is_excel_ready_and_injection_free(client, data_dir, shop):
    t0 = today()
    for uid, caller in (("x-eq", "=HYPERLINK(\"http://evil\",\"x\")"), ("x-plus", "+8613800000000"),
                        ("x-minus", "-2+3"), ("x-at", "@SUM(A1)"), ("x-tab", "\t=1"), ("x-comma", 'a,"b"')):
        record_call(data_dir, uid, at(t0, 1), caller, agent="201", queue="")
    client.get("/lang/en")
    response = client.get("/api/history.csv?agent=201")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="calls-')
    rows = _csv(response)
    assert rows[0] == ["Time", "Caller", "Number dialled", "Line", "Queue", "Agent", "Agent name", "Result",
                       "Wait (s)", "Talk (s)", "Wrap-up (s)", "Menu keys", "Recording", "Call ID"]
    by_uid = {r[-1]: r for r in rows[1:]}
    assert set(by_uid) == {"t-out", "t-ann", "x-eq", "x-plus", "x-minus", "x-at", "x-tab", "x-comma"}
    assert by_uid["x-eq"][1] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert by_uid["x-plus"][1] == "'+8613800000000"
    assert by_uid["x-minus"][1] == "'-2+3"
    assert by_uid["x-at"][1] == "'@SUM(A1)"
    assert by_uid["x-tab"][1] == "'\t=1"
    assert by_uid["x-comma"][1] == 'a,"b"'                    # quoted by the CSV writer, read back intact
    assert not [cell for row in rows[1:] for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    ann = by_uid["t-ann"]
    when = datetime.fromtimestamp(at(today(), 0, 0, 5), SHOP).strftime("%Y-%m-%d %H:%M:%S")
    assert ann[:8] == [when, "13800000001", "", "gsm1", "Sales", "201", "Ann", "answered"]
    assert ann[8:13] == ["8.0", "60.0", "5.0", "", "yes"]
    assert by_uid["t-out"][2] == "13612345678"
    # Filters apply as on the page.
    assert [r[-1] for r in _csv(client.get("/api/history.csv?disposition=abandoned-in-ivr&from="
                                           + (today() - timedelta(days=6)).date().isoformat()))[1:]] == ["d3-ivr"]
    assert client.get("/api/history.csv?from=nope").status_code == 400


def test_csv_and_pages_in_chinese(client, data_dir):
    run_wizard(client, extensions=(("201", "王芳"), ("202", "李明")))
    record_call(data_dir, "c1", at(today(), 9), "13800000001", agent="201", recording_seconds=0.5)
    record_call(data_dir, "c2", at(today(), 9, 5), "13800000002", wait=40.0)
    client.get("/lang/zh")
    rows = _csv(client.get("/api/history.csv"))
    assert rows[0][:3] == ["时间", "来电号码", "拨出号码"] and rows[0][-2:] == ["录音文件", "通话编号"]
    by_uid = {r[-1]: r for r in rows[1:]}
    assert by_uid["c1"][6:8] == ["王芳", "已接听"] and by_uid["c1"][12] == "是"
    assert by_uid["c2"][7] == "等待中挂断"
    html = client.get("/history/").get_data(as_text=True)
    assert "<h1>通话记录</h1>" in html and "王芳" in html and "等待中挂断" in html and "共找到 2 个通话" in html
    nav = re.search(r'<nav class="main-nav">(.*?)</nav>', html, re.S).group(1)
    for word in ("通话记录", "录音", "语音信箱", "报表"):
        assert word in nav
    assert "左声道：来电者" in client.get("/recordings/").get_data(as_text=True)
    html = client.get("/reports/").get_data(as_text=True)
    assert "每小时来电" in html and "平均处理时长" in html
    strings = json.loads(re.search(r'id="report-strings">(.*?)</script>', html).group(1))
    assert strings["days"][0] == "周一"
    response = client.get("/api/history?number=abc")
    assert response.status_code == 400 and response.json["error"] == "只能是数字（以及 + * #），最多 32 位"
    assert 'data-field="from"' in client.get("/history/?from=2026-02-30").get_data(as_text=True)


# -- recordings --------------------------------------------------------------------------------
def test_recordings_search_play_and_download(client, data_dir, shop):
    client.get("/lang/en")
    html = client.get("/recordings/").get_data(as_text=True)
    assert re.findall(r'<tr data-uid="([^"]+)"', html) == ["t-bo", "t-ann"]
    assert '<audio controls preload="none" src="/api/recordings/t-ann.wav">' in html
    assert re.findall(r'<tr data-uid="([^"]+)"', client.get("/recordings/?agent=201").get_data(as_text=True)) \
        == ["t-ann"]
    assert re.findall(r'<tr data-uid="([^"]+)"',
                      client.get("/recordings/?number=3900").get_data(as_text=True)) == ["t-bo"]
    assert uids(client.get("/api/history?recorded=1")) == ["t-bo", "t-ann"]
    response = client.get("/api/recordings/t-ann.wav")
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" not in response.headers.get("Content-Disposition", "")
    body = response.get_data()
    with wave.open(io.BytesIO(body)) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (2, 8000, 8000)   # caller left, agent right
    day = datetime.fromtimestamp(at(today(), 0, 0, 5)).strftime("%Y-%m-%d")
    assert body == (data_dir / "recordings" / day / "t-ann.wav").read_bytes()
    # The player can seek: ranges are served.
    part = client.get("/api/recordings/t-ann.wav", headers={"Range": "bytes=44-1043"})
    assert part.status_code == 206 and part.get_data() == body[44:1044]
    download = client.get("/api/recordings/t-ann.wav?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "-13800000001-t-ann.wav" in download.headers["Content-Disposition"]
    assert client.get("/api/recordings/t-lost.wav").status_code == 404       # no recording
    assert client.get("/api/recordings/nobody.wav").status_code == 404
    # A recording retention deleted: the page says so, the download is 404.
    (data_dir / "recordings" / day / "t-ann.wav").unlink()
    html = client.get("/recordings/").get_data(as_text=True)
    assert "deleted (older than the recordings are kept)" in html
    assert client.get("/api/recordings/t-ann.wav").status_code == 404


@pytest.fixture
def spy_files(monkeypatch):
    """Every path handed to send_file by the records service."""
    from web.records import service
    served = []
    real = service.send_file

    def spy(path, *args, **kwargs):
        served.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(service, "send_file", spy)
    return served


def test_downloads_never_leave_their_folder(client, data_dir, tmp_path, shop, spy_files):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.wav").write_bytes(SECRET)
    (data_dir / "secret.wav").write_bytes(SECRET)
    recordings = data_dir / "recordings"
    (recordings / "evil").mkdir(parents=True)
    os.symlink(outside / "secret.wav", recordings / "evil" / "file-link.wav")
    os.symlink(outside, recordings / "dir-link")
    # Call records whose recording field points out of the folder, however it is spelt.
    names = {"r-dotdot": "../secret.wav", "r-deep": "2026-01-01/../../secret.wav",
             "r-abs": str(outside / "secret.wav"), "r-file-link": "evil/file-link.wav",
             "r-dir-link": "dir-link/secret.wav", "r-backslash": "..\\secret.wav", "r-nul": "x\x00/../../secret.wav",
             "r-dir": "evil"}
    with RecordStore(data_dir / "records.db") as store:
        for uid, name in names.items():
            store.add_call(CallRecord(uid=uid, arrived=at(today(), 2), caller="1", line="sip", agent="201",
                                      recording=name))
    for uid in names:
        response = client.get(f"/api/recordings/{uid}.wav")
        assert response.status_code == 404, (uid, response.status_code)
    # Paths in the URL itself: not ids, so nothing is even looked up.
    for url in ("/api/recordings/../secret.wav", "/api/recordings/..%2Fsecret.wav", "/api/recordings/%2e%2e%2fsecret.wav",
                "/api/recordings/..%2F..%2Fsecret.wav", "/api/recordings/%2Fetc%2Fpasswd",
                "/api/recordings/%252e%252e%252fsecret.wav", "/api/recordings/..%5Csecret.wav",
                "/api/recordings/t-ann.wav%00.txt", "/api/recordings/t-ann", "/api/recordings/t-ann.WAV",
                "/api/recordings/evil%2Ffile-link.wav", f"/api/recordings/{outside}/secret.wav",
                "/api/recordings/....%2F%2Fsecret.wav", "/api/recordings/t-ann.wav/..%2F..%2Fsecret.wav"):
        response = client.get(url)
        assert response.status_code in (400, 404), (url, response.status_code)
        assert SECRET not in response.get_data(), url
    # Voicemail: mailbox and message names are checked the same way.
    leave_message(data_dir, "201", "13800000001", at(today(), 3))
    os.symlink(outside / "secret.wav", data_dir / "voicemail" / "201" / "20260101-000000-ab12-x.wav")
    for url in ("/api/voicemail/..%2F..%2Frecordings/x.wav", "/api/voicemail/../secret.wav",
                "/api/voicemail/201/..%2F..%2Fsecret.wav", "/api/voicemail/201/20260101-000000-ab12-x.wav",
                "/api/voicemail?mailbox=..%2F..", "/api/voicemail/%2E%2E/secret.wav", "/voicemail/?mailbox=../.."):
        response = client.get(url)
        assert response.status_code in (400, 404), (url, response.status_code)
        assert SECRET not in response.get_data(), url
    csrf = token(client, "/voicemail/")
    for url in ("/api/voicemail/201/..%2F..%2Fsecret.wav", "/api/voicemail/..%2F..%2Foutside/secret.wav"):
        assert client.delete(url, headers={"X-CSRFToken": csrf}).status_code in (400, 404, 405), url
    assert (outside / "secret.wav").read_bytes() == SECRET and (data_dir / "secret.wav").exists()
    # The good ones still work, and nothing outside the folders was ever handed out.
    assert client.get("/api/recordings/t-ann.wav").status_code == 200
    message = next(m for m in client.get("/api/voicemail?mailbox=201").json["messages"]
                   if m["caller"] == "13800000001")
    assert client.get(message["audio_url"]).status_code == 200
    roots = [(data_dir / "recordings").resolve(), (data_dir / "voicemail").resolve()]
    assert len(spy_files) == 2 and all(any(p.resolve().is_relative_to(r) for r in roots) for p in spy_files)


# -- an agent's view ---------------------------------------------------------------------------
def test_an_agent_sees_only_its_own_calls_recordings_and_mailbox(app, client, data_dir, shop):
    leave_message(data_dir, "201", "13800000001", at(today(), 4))
    other = leave_message(data_dir, "202", "13900000002", at(today(), 5))
    agent = app.test_client()
    assert login(agent, "201", shop["web"]["201"]).status_code == 302
    assert uids(agent.get("/api/history")) == ["t-out", "t-ann"]
    assert uids(agent.get("/api/history?agent=201")) == ["t-out", "t-ann"]
    assert agent.get("/api/history?agent=202").status_code == 403
    assert agent.get("/history/?agent=202").status_code == 403
    assert agent.get("/api/history.csv?agent=202").status_code == 403
    assert {r[-1] for r in _csv(agent.get("/api/history.csv"))[1:]} == {"t-out", "t-ann"}
    history = agent.get("/api/history").json["calls"]
    assert all("offers" not in c for c in history)              # other agents' missed offers stay hidden
    html = agent.get("/history/").get_data(as_text=True)
    assert re.findall(r'<tr data-uid="([^"]+)"', html) == ["t-out", "t-ann"] and 'id="f-agent"' not in html
    assert "13900000002" not in html
    # Recordings: its own plays, another agent's is "not found".
    assert re.findall(r'<tr data-uid="([^"]+)"', agent.get("/recordings/").get_data(as_text=True)) == ["t-ann"]
    assert agent.get("/api/recordings/t-ann.wav").status_code == 200
    response = agent.get("/api/recordings/t-bo.wav")
    assert response.status_code == 404 and not response.get_data().startswith(b"RIFF")
    assert agent.get("/api/recordings/t-bo.wav?download=1").status_code == 404
    # Voicemail: its own mailbox only.
    listing = agent.get("/api/voicemail").json
    assert listing["mailboxes"] == [{"id": "201", "name": "Ann"}] and listing["mailbox"] == "201"
    assert len(listing["messages"]) == 1
    assert agent.get("/api/voicemail?mailbox=202").status_code == 404
    assert agent.get("/voicemail/?mailbox=202").status_code == 404
    assert agent.get(f"/api/voicemail/202/{other}.wav").status_code == 404
    csrf = token(agent, "/voicemail/")
    assert agent.delete(f"/api/voicemail/202/{other}.wav", headers={"X-CSRFToken": csrf}).status_code == 404
    assert agent.post(f"/voicemail/202/{other}.wav/delete", data={"csrf_token": csrf}).status_code == 404
    assert [m.id for m in Voicemail(data_dir / "voicemail").messages("202")] == [other]
    # Reports are the owner's.
    assert agent.get("/reports/").status_code == 403 and agent.get("/api/reports").status_code == 403
    nav = re.search(r'<nav class="main-nav">(.*?)</nav>', agent.get("/history/").get_data(as_text=True), re.S).group(1)
    assert "/history/" in nav and "/recordings/" in nav and "/voicemail/" in nav and "/reports/" not in nav


# -- voicemail ---------------------------------------------------------------------------------
def test_voicemail_list_play_and_delete_need_the_csrf_token(client, data_dir, shop):
    store = ConfigStore(data_dir)
    tables = store.callcenter_tables()
    tables["voicemail"] = [{"id": "shop", "name": "After hours"}]
    store.replace_callcenter(tables)
    first = leave_message(data_dir, "shop", "13800000001", at(today(), 6), seconds=1.5)
    second = leave_message(data_dir, "shop", "+8613900000002", at(today(), 7))
    client.get("/lang/en")
    listing = client.get("/api/voicemail?mailbox=shop").json
    assert [b["id"] for b in listing["mailboxes"]] == ["201", "202", "shop"]
    assert [(m["id"], m["caller"], m["seconds"]) for m in listing["messages"]] == \
        [(second, "+8613900000002", 2.0), (first, "13800000001", 1.5)]
    html = client.get("/voicemail/?mailbox=shop").get_data(as_text=True)
    assert re.findall(r'<tr data-message="([^"]+)"', html) == [second, first]
    assert f'src="/api/voicemail/shop/{first}.wav"' in html
    audio = client.get(f"/api/voicemail/shop/{first}.wav")
    assert audio.status_code == 200 and audio.get_data()[:4] == b"RIFF" and audio.mimetype == "audio/wav"
    # Without the token (or with a forged one) nothing is deleted.
    for headers in ({}, {"X-CSRFToken": "forged"}):
        assert client.delete(f"/api/voicemail/shop/{first}.wav", headers=headers).status_code == 400
    assert client.post(f"/voicemail/shop/{first}.wav/delete", data={}).status_code == 400
    assert client.post(f"/voicemail/shop/{first}.wav/delete", data={"csrf_token": "forged"}).status_code == 400
    assert len(Voicemail(data_dir / "voicemail").messages("shop")) == 2
    # With it: the page's form, then the API.
    response = post(client, f"/voicemail/shop/{first}.wav/delete", {}, page="/voicemail/?mailbox=shop")
    assert response.status_code == 302 and response.headers["Location"] == "/voicemail/?mailbox=shop"
    assert "The message was deleted." in client.get("/voicemail/?mailbox=shop").get_data(as_text=True)
    assert not list((data_dir / "voicemail" / "shop").glob(f"{first}.*"))
    csrf = token(client, "/voicemail/")
    response = client.delete(f"/api/voicemail/shop/{second}.wav", headers={"X-CSRFToken": csrf})
    assert response.status_code == 200 and response.json == {"mailbox": "shop", "deleted": second}
    assert client.delete(f"/api/voicemail/shop/{second}.wav", headers={"X-CSRFToken": csrf}).status_code == 404
    assert Voicemail(data_dir / "voicemail").messages("shop") == []
    assert 'id="no-messages"' in client.get("/voicemail/?mailbox=shop").get_data(as_text=True)


# -- reports -----------------------------------------------------------------------------------
def test_reports_figures(client, data_dir):
    run_wizard(client)
    monday = today() - timedelta(days=today().weekday() + 7)          # last week's Monday
    tuesday = monday + timedelta(days=1)
    # Monday 09:xx: four callers; answered after 5, 12 and 20 s, one hung up after 30 s.
    record_call(data_dir, "m1", at(monday, 9, 1), "1", agent="201", wait=5.0, talk=100.0, wrapup=10.0)
    record_call(data_dir, "m2", at(monday, 9, 10), "2", agent="201", wait=12.0, talk=50.0, wrapup=10.0,
                offers=(("202", "noanswer"),))
    record_call(data_dir, "m3", at(monday, 9, 20), "3", agent="202", wait=20.0, talk=30.0, wrapup=0.0,
                offers=(("201", "busy"), ("202", "withdrawn")))
    record_call(data_dir, "m4", at(monday, 9, 30), "4", wait=30.0, offers=(("202", "declined"),))
    # Tuesday 14:xx: one answered at once; an outgoing call (not counted as incoming).
    record_call(data_dir, "t1", at(tuesday, 14, 5), "5", agent="202", wait=1.0, talk=60.0, wrapup=0.0)
    record_call(data_dir, "t2", at(tuesday, 14, 6), "202", agent="202", queue="", dialed="13612345678")
    start, end = monday.date().isoformat(), (monday + timedelta(days=6)).date().isoformat()
    report = client.get(f"/api/reports?from={start}&to={end}").json
    assert report["from"] == start and len(report["days"]) == 7 and report["timezone"] == "Asia/Shanghai"
    mon, tue = report["days"][0], report["days"][1]
    assert (mon["offered"], mon["answered"], mon["abandoned"]) == (4, 3, 1)
    assert mon["service_level"] == round(2 / 3, 4) and mon["abandon_rate"] == 0.25     # 5 s and 12 s within 15 s
    assert (tue["offered"], tue["service_level"], tue["abandon_rate"]) == (1, 1.0, 0.0)
    assert report["days"][2]["offered"] == 0 and report["days"][2]["service_level"] is None
    assert report["totals"]["offered"] == 5 and report["totals"]["service_level"] == 0.75
    heat = report["calls_per_hour"]["counts"]
    assert heat[0][9] == 4 and heat[1][14] == 1 and sum(map(sum, heat)) == 5 and report["calls_per_hour"]["max"] == 4
    agents = {a["extension"]: a for a in report["agents"]}
    assert agents["201"] == {"extension": "201", "name": "Ann", "answered": 2, "talk_s": 150.0,
                             "average_talk_s": 75.0, "average_handle_s": 85.0, "missed_offers": 1, "outbound": 0}
    assert (agents["202"]["answered"], agents["202"]["missed_offers"], agents["202"]["outbound"]) == (2, 2, 1)
    assert agents["202"]["average_handle_s"] == 45.0
    assert report["queues"][0]["queue"] == "main" and report["queues"][0]["service_level_threshold_s"] == 15.0
    # The queue's own threshold counts: at 10 s only the 5 s answer was in time.
    store = ConfigStore(data_dir)
    tables = store.callcenter_tables()
    tables["queues"][0]["sl_threshold_s"] = 10
    store.replace_callcenter(tables)
    report = client.get(f"/api/reports?from={start}&to={end}").json
    assert report["days"][0]["service_level"] == round(1 / 3, 4)
    assert report["queues"][0]["service_level_threshold_s"] == 10.0
    # The page: tables in HTML, the charts' figures as JSON data for reports.js (no inline script).
    client.get("/lang/en")
    html = client.get(f"/reports/?from={start}&to={end}").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html,
                                re.S).group(1))
    assert data["calls_per_hour"]["counts"][0][9] == 4
    assert re.search(r'<tr data-extension="201">.*?<td class="answered">2</td>.*?<td class="aht">1:25</td>'
                     r'.*?<td class="missed">1</td>', html, re.S)
    assert '<script src="/static/reports.js"></script>' in html
    assert not re.search(r"<script(?![^>]*(type=\"application/json\"|src=))", html)
    # Ranges: a year at most, the start not after the end.
    assert client.get("/api/reports?from=2025-01-01&to=2026-06-01").json["field"] == "to"
    assert client.get(f"/api/reports?from={end}&to={start}").json["field"] == "from"
    assert client.get("/reports/?from=bad").status_code == 400


def test_every_disposition_has_a_label():
    from web.records.history import DISPOSITIONS
    assert set(DISPOSITIONS) == {d.value for d in Disposition}


def test_pages_need_a_login(app, client, shop):
    anonymous = app.test_client()
    for url in ("/history/", "/recordings/", "/voicemail/", "/reports/"):
        assert anonymous.get(url).headers["Location"].startswith("/login"), url
    for url in ("/api/history", "/api/history.csv", "/api/recordings/t-ann.wav", "/api/voicemail", "/api/reports"):
        assert anonymous.get(url).status_code == 401, url


def demo_calls(data_dir: Path, days: int = 28, seed: int = 7) -> int:
    """A few weeks of a small shop's calls (busier mornings, quiet Sundays) for the screenshots."""
    import random
    rnd = random.Random(seed)
    callers = [f"13{rnd.randint(0, 9)}{rnd.randint(10_000_000, 99_999_999)}" for _ in range(60)]
    n = 0
    for back in range(days - 1, -1, -1):
        day = today() - timedelta(days=back)
        if day.weekday() == 6 and rnd.random() < 0.7:
            continue
        for hour in range(9, 18):
            busy = {9: 3, 10: 4, 11: 3, 12: 1, 13: 1, 14: 2, 15: 3, 16: 2, 17: 1}[hour]
            for _ in range(rnd.randint(0, busy)):
                when = at(day, hour, rnd.randint(0, 59), rnd.randint(0, 59))
                if when > datetime.now(SHOP).timestamp() - 120:
                    continue
                n += 1
                wait = round(rnd.expovariate(1 / 12), 1)
                offers = (("202", "noanswer"),) if rnd.random() < 0.1 else ()
                if rnd.random() < 0.12:
                    record_call(data_dir, f"demo{n}", when, rnd.choice(callers), wait=wait + 10, offers=offers)
                else:
                    record_call(data_dir, f"demo{n}", when, rnd.choice(callers), agent=rnd.choice(("201", "202")),
                                wait=wait, talk=round(rnd.uniform(30, 400)), wrapup=5.0, offers=offers,
                                recording_seconds=2.0 if back <= 1 and n % 4 == 0 else 0.0)
    return n
