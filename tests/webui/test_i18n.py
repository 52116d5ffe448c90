"""Every page in Simplified Chinese and English: chosen by the browser,
switchable, from Flask-Babel catalogues compiled at start (no .mo in git)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from web import create_app
from web.i18n import SOURCE_DIR, compile_catalogs
from webtools import ADMIN, field_errors, post

WEB = Path(__file__).resolve().parents[2] / "web"
PO = SOURCE_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po"
HAN = re.compile(r"[\u4e00-\u9fff]")


def _visible_text(html: str) -> str:
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_language_link_switches_every_page_to_chinese(client):
    page = client.get("/setup/password").get_data(as_text=True)
    assert 'lang="en"' in page and "Admin password" in page
    assert not HAN.search(_visible_text(page).replace("简体中文", ""))
    switched = client.get("/lang/zh?next=/setup/password")
    assert switched.headers["Location"] == "/setup/password"
    page = client.get("/setup/password").get_data(as_text=True)
    assert '<html lang="zh-Hans">' in page
    assert "管理员密码" in page and "保存并继续" in page and "Admin password" not in page
    # ... and stays switched across the wizard and after logging in.
    post(client, "/setup/password", {"username": ADMIN[0], "password": ADMIN[1], "confirm": ADMIN[1]})
    assert "语言和时区" in client.get("/setup/region").get_data(as_text=True)
    client.get("/lang/en")
    assert "Language and time zone" in client.get("/setup/region").get_data(as_text=True)


@pytest.mark.parametrize("header,chinese", [
    ("zh-CN,zh;q=0.9,en;q=0.8", True), ("zh-Hans", True), ("zh-TW", True), ("en-US,en;q=0.9", False),
    ("de-DE,zh;q=0.5", True), ("fr-FR", False), ("", False),
])
def test_browser_language_picks_the_page_language(client, header, chinese):
    page = client.get("/setup/password", headers={"Accept-Language": header}).get_data(as_text=True)
    assert ("管理员密码" in page) is chinese
    assert ("Admin password" in page) is not chinese


def test_refusals_are_shown_in_chinese_next_to_the_field(client):
    client.get("/lang/zh")
    response = post(client, "/setup/password", {"username": "owner", "password": "short", "confirm": "short"})
    assert field_errors(response.get_data(as_text=True)) == {"password": ["至少需要 10 个字符"]}
    response = post(client, "/setup/password", {"username": "owner", "password": "", "confirm": ""})
    assert field_errors(response.get_data(as_text=True))["password"] == ["请填写此项。"]


def test_firmware_messages_with_values_are_translated(app):
    from web.i18n import translate_error
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert translate_error("'25:00-26:00' is not a valid time of day") == "25:00-26:00 不是有效的时间"
        assert translate_error("09:00-13:00 and 12:00-18:00 overlap") == "09:00-13:00 与 12:00-18:00 重叠"
        assert translate_error("something new") == "something new"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert translate_error("'25:00-26:00' is not a valid time of day") == "25:00-26:00 is not a valid time of day"


def test_every_message_in_the_code_is_translated():
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "N_": None}
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    extracted = {(ctx, msg if isinstance(msg, str) else msg[0])
                 for _file, _line, msg, _comments, ctx in extract_from_dir(str(WEB), method_map, keywords=keywords)}
    from web.i18n import read_catalog
    catalog = read_catalog(PO.parent)
    translated = {m.id: m.string for m in catalog if m.id}
    assert len(extracted) > 200
    missing = sorted(extracted - {(m.context, m.id) for m in catalog if m.id}, key=str)
    assert missing == [], f"not in any .po (run the pybabel commands in web/README.md): {missing}"
    empty = sorted(k for k, v in translated.items() if not v or not HAN.search(v) and k not in ("s",))
    assert [e for e in empty if not re.fullmatch(r"[%()a-z\s]+", e)] == [], empty
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    for msgid, msgstr in translated.items():   # placeholders survive translation
        assert msgstr, msgid
        assert sorted(re.findall(r"%\(\w+\)[sd]", msgid)) == sorted(re.findall(r"%\(\w+\)[sd]", msgstr)), msgid


def test_catalogues_are_compiled_at_start_into_the_data_dir(data_dir):
    create_app(data_dir, testing=True)
    mo = data_dir / "web" / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.mo"
    assert mo.stat().st_size > 1000
    assert not list(SOURCE_DIR.rglob("*.mo")), "compiled catalogues belong in DATA/web, not in the source tree"
    # Not recompiled while the .po is unchanged; recompiled when it is newer.
    assert compile_catalogs(data_dir / "web" / "translations") == []
    import os
    os.utime(mo, (1, 1))
    assert compile_catalogs(data_dir / "web" / "translations") == [mo]
