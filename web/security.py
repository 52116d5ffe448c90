"""Sessions, roles and the guard every request passes.

- **Secret**: made once per box (``DATA/web/secret_key``, 32 random bytes,
  mode 0600); sessions are signed cookies (HttpOnly, SameSite=Lax, Secure
  when the request came over https, 12 h).
- **Access, fail closed**: every view declares who may use it with
  :func:`public`, :func:`login_required` or :func:`admin_required`; a view
  without a declaration answers 403 to everyone.
- **First boot**: until an admin exists every page leads to the setup
  wizard; after it, pages need a login; an admin who has not finished the
  wizard is led back to it.
- **Sessions end** when the user's ``epoch`` changes (password change,
  log out, removal): the cookie carries the epoch it was made in.
- **CSRF**: Flask-WTF's ``CSRFProtect`` runs before this guard on every
  POST/PUT/PATCH/DELETE (forms send ``csrf_token``, the API ``X-CSRFToken``).
- **Host**: :class:`TrustedHosts` is Flask's ``TRUSTED_HOSTS``: a request
  whose ``Host`` is not one of the box's own names or addresses is refused
  (400) before any of this runs (DNS rebinding).
- **Redirects**: :func:`safe_next` lets only a path on this box through.
"""
from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import abort, current_app, g, has_request_context, jsonify, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext

from web.auth.users import User
from web.box import get_box

ACCESS_ATTR = "_smallpbx_access"
# Reachable before the first admin exists (the rest leads to the wizard).
FIRST_BOOT_ENDPOINTS = {"wizard.start", "wizard.password", "auth.language", "api.openapi", "static"}


def _declare(level: str):
    def mark(view):
        setattr(view, ACCESS_ATTR, level)
        return view
    return mark


public = _declare("public")
login_required = _declare("login")
admin_required = _declare("admin")


def load_secret_key(web_dir: Path) -> bytes:
    """The box's session secret; made on first use, never shared, mode 0600."""
    path = Path(web_dir) / "secret_key"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        key = path.read_bytes()
        if len(key) >= 32:
            return key
        path.unlink()   # truncated by a crash during creation: make a new one
        return load_secret_key(web_dir)
    try:
        key = secrets.token_bytes(32)
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


class BoxSessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions whose cookie is Secure whenever the page came over https."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def current_user() -> User | None:
    if "user" not in g:
        g.user = None
        name = session.get("user")
        if name:
            user = get_box().users.get(name)
            if user is not None and user.epoch == session.get("epoch"):
                g.user = user
            else:                      # removed, new password, or logged out elsewhere
                session.pop("user", None)
                session.pop("epoch", None)
    return g.user


def log_in(user: User) -> None:
    """A fresh session for ``user`` (nothing of the old one but the language)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session.permanent = True
    session["user"] = user.username
    session["epoch"] = user.epoch
    g.user = user


def log_out() -> None:
    """End this user's sessions everywhere (the epoch moves on); keep the language."""
    user = current_user()
    if user is not None:
        get_box().users.end_sessions(user.username)
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    g.user = None


def wants_json() -> bool:
    return request.blueprint == "api"


def _refuse(status: int, message: str):
    if wants_json():
        return jsonify({"error": message}), status
    abort(status)


def guard():
    """``before_request``: the first-boot, login and role rules, in that order."""
    endpoint = request.endpoint
    if endpoint is None:
        return None                                   # 404 / 405 follow
    view = current_app.view_functions.get(endpoint)
    access = "public" if endpoint == "static" else getattr(view, ACCESS_ATTR, None)
    if access is None:
        return _refuse(403, gettext("forbidden"))
    box = get_box()
    box.consume_admin_reset()
    user = current_user()          # before any view makes a form: a stale login is dropped first
    if not box.users.has_admin():
        if endpoint in FIRST_BOOT_ENDPOINTS:
            return None
        if wants_json():
            return jsonify({"error": gettext("setup not done"), "setup": url_for("wizard.start")}), 503
        return redirect(url_for("wizard.password"))
    if access == "public":
        return None
    if user is None:
        if wants_json():
            return jsonify({"error": gettext("login required"), "login": url_for("auth.login")}), 401
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    if access == "admin" and not user.is_admin:
        return _refuse(403, gettext("This page is for the shop owner."))
    if (user.is_admin and request.method == "GET" and request.blueprint not in ("wizard", "auth", "api")
            and not box.state.wizard_done()):
        return redirect(url_for("wizard.resume"))
    return None


def security_headers(response):
    """``after_request``: everything is served by the box itself; nothing may frame it."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.blueprint == "api" or current_user_cached() is not None:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def current_user_cached() -> User | None:
    return g.get("user")


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this box: no open redirect (and no 500) through ``?next=``.

    Refused, so ``default`` is used: any control character, space or DEL
    (browsers drop tabs and newlines, so ``/%09/evil.example`` would become
    ``//evil.example``), a backslash (read as ``/``), a scheme or a host,
    and a path that does not start with exactly one ``/``.
    """
    if not target or not isinstance(target, str):
        return default
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target) or "\\" in target:
        return default
    try:
        parts = urlsplit(target)
    except ValueError:
        return default
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return default
    return target


# -- which Host headers the box answers (DNS rebinding) ----------------------------------------------

class _Bracketed(str):
    """An IPv6 literal (``[::1]``) Werkzeug can match: it cuts each trusted
    name at its first ``:`` (to drop a port), which would leave ``[``."""

    def partition(self, sep):
        return (str(self), "", "") if sep == ":" else super().partition(sep)


def _host_only(entry: str) -> str:
    """``name``, ``name:port``, ``v4:port``, ``v6``, ``[v6]`` or ``[v6]:port`` as Werkzeug compares it.

    Werkzeug matches the Host header without its port; an IPv6 address keeps
    its brackets (``[::1]``).
    """
    entry = entry.strip().lower()
    if entry.startswith("["):
        entry = entry[1:].split("]", 1)[0]
    try:
        return _Bracketed(f"[{ipaddress.IPv6Address(entry.split('%', 1)[0])}]")
    except ValueError:
        pass
    return entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry


def _encodable(host: str) -> bool:
    if isinstance(host, _Bracketed):
        return True
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return bool(host)


def interface_addresses() -> list[str]:
    """Every address of the box's interfaces that are up (``ip -j addr``; no shell, nothing sent)."""
    from firmware.hw.network import box_address
    found = [box_address()]
    ip = shutil.which("ip")
    if ip:
        try:
            out = subprocess.run([ip, "-j", "addr", "show", "up"], capture_output=True, text=True,
                                 timeout=5, check=True).stdout
            for iface in json.loads(out):
                for addr in iface.get("addr_info", []):
                    if addr.get("local"):
                        found.append(addr["local"])
        except (subprocess.SubprocessError, OSError, ValueError, AttributeError, TypeError):
            pass
    return [a for a in found if a]


class TrustedHosts:
    """Flask's ``TRUSTED_HOSTS``: the names and addresses a request's ``Host`` may carry.

    ``localhost`` and the loopback addresses, the box's host name and
    ``<hostname>.local`` (mDNS), every address of its interfaces, and the
    ``extra`` ones (config ``TRUSTED_HOSTS``: a name a local DNS gives the
    box, a reverse proxy's name). Any other Host is refused with 400 before
    a view runs, so a page of another site whose name was re-pointed at the
    box (DNS rebinding) cannot use it, not even at first boot.

    The interfaces' addresses are read again at most every ``refresh_s``
    (DHCP may hand out an address after the web service started).
    """

    LOCAL = ("localhost", "127.0.0.1", _Bracketed("[::1]"))

    def __init__(self, extra=(), *, refresh_s: float = 10.0, addresses=interface_addresses):
        self.extra = [_host_only(h) for h in ([extra] if isinstance(extra, str) else extra or ()) if h]
        self.refresh_s = refresh_s
        self.addresses = addresses
        self._hosts: list[str] = []
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def _current(self) -> list[str]:
        with self._lock:
            if time.monotonic() - self._read_at >= self.refresh_s:
                # No DNS lookup here (getfqdn): at first boot the box may have no DNS to ask.
                hostname = socket.gethostname().lower()
                names = [hostname, f"{hostname.split('.')[0]}.local"] if hostname else []
                hosts = [*self.LOCAL, *names, *self.extra, *(_host_only(a) for a in self.addresses())]
                # Werkzeug gives up on the whole list at a name IDNA cannot encode: leave such names out.
                self._hosts = list(dict.fromkeys(h for h in hosts if _encodable(h)))
                self._read_at = time.monotonic()
            return self._hosts

    def __iter__(self):
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def __contains__(self, host) -> bool:
        return _host_only(str(host)) in self._current()
