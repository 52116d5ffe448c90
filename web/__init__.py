"""The setup page and dashboard: a Flask app served by waitress (web/server.py).

``create_app(data_dir)`` builds the app for one box (the Flask tutorial's
application factory): blueprints per concern (``auth``, ``wizard``,
``dashboard``, ``extensions``, ``api``), Flask-Babel for English and
Simplified Chinese, Flask-WTF's CSRF protection on every state-changing
request, and the guard in :mod:`web.security`.

It must not touch pjsua2 or hardware: configuration goes through the config
store (one writer, flock), live state and actions through the core's
control socket. What it keeps of its own lives in ``DATA/web/`` (mode 0700):
``secret_key``, ``users.json``, ``state.json`` and the compiled
translations.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from flask import Flask, jsonify, render_template, request
from flask_babel import Babel
from flask_wtf.csrf import CSRFError, CSRFProtect

from firmware import __version__
from firmware.errors import StoreBusyError
from firmware.paths import BoxPaths

log = logging.getLogger(__name__)


def create_app(data_dir: Path, *, testing: bool = False, control_socket: Path | None = None,
               config: dict | None = None) -> Flask:
    """The web app for the box whose data directory is ``data_dir``.

    :param testing: Flask's TESTING (exceptions propagate); CSRF stays on.
    :param control_socket: the core's socket (default ``DATA/run/core.sock``).
    :param config: extra Flask config (e.g. ``LOGIN_MAX_FAILURES``, ``SIP_PORT``).
    """
    from web import i18n
    from web.auth.throttle import LoginThrottle
    from web.box import Box, close_calllog
    from web.security import BoxSessionInterface, TrustedHosts, guard, load_secret_key, security_headers

    _check_flask()
    paths = BoxPaths(Path(data_dir).resolve())
    box = Box(paths, Path(control_socket) if control_socket else paths.control_socket).open()

    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        TESTING=testing,
        SECRET_KEY=load_secret_key(box.web_dir),
        SESSION_COOKIE_NAME="smallpbx_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,        # made Secure per request when it came over https
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,           # valid as long as the session (a dashboard stays open all day)
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,  # a greeting recording of at most 20 MB
        RESTORE_MAX_BYTES=RESTORE_MAX_BYTES,  # a backup to restore (the two restore endpoints only)
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES=str(box.web_dir / "translations"),
        SIP_PORT=5060,
        LOGIN_MAX_FAILURES=5,
        LOGIN_WINDOW_S=600,
        LOGIN_BLOCK_S=600,
        LOGIN_USER_MAX_FAILURES=10,
        LOGIN_USER_WINDOW_S=3600,
        LOGIN_USER_BLOCK_S=900,
        CONTROL_TIMEOUT_S=3.0,
    )
    app.config.update(config or {})
    # Only these Host headers are answered (400 otherwise): no DNS rebinding, even at first boot.
    app.config["TRUSTED_HOSTS"] = TrustedHosts(app.config.get("TRUSTED_HOSTS") or ())
    box.control_timeout_s = float(app.config["CONTROL_TIMEOUT_S"])
    app.session_interface = BoxSessionInterface()
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.extensions["smallpbx"] = box
    app.extensions["smallpbx_throttle"] = LoginThrottle(
        app.config["LOGIN_MAX_FAILURES"], app.config["LOGIN_WINDOW_S"], app.config["LOGIN_BLOCK_S"],
        user_max_failures=app.config["LOGIN_USER_MAX_FAILURES"], user_window_s=app.config["LOGIN_USER_WINDOW_S"],
        user_block_s=app.config["LOGIN_USER_BLOCK_S"])

    i18n.compile_catalogs(box.web_dir / "translations")
    Babel(app, locale_selector=i18n.select_locale, timezone_selector=box.state.timezone_name)

    # Before CSRF, which reads the form: a backup being restored may be
    # bigger than anything else the box takes (web/system/backup.py).
    app.before_request(_restore_size_limit)
    # CSRF first: its check runs before the guard, so no state-changing
    # request reaches a view (or even a redirect decision) without a token.
    CSRFProtect(app)
    app.before_request(guard)
    app.after_request(security_headers)
    app.teardown_appcontext(close_calllog)

    from web.api import views as api
    from web.auth import views as auth
    from web.dashboard import views as dashboard
    from web.extensions import views as extensions
    from web.wizard import views as wizard
    for module in (auth, wizard, dashboard, extensions, api):
        app.register_blueprint(module.bp)
    from web.records import views as records     # call history, recordings, voicemail
    from web.reports import views as reports
    app.register_blueprint(records.bp)
    app.register_blueprint(reports.bp)
    from web.lines import views as lines         # lines and trunks, outbound routes, texts
    from web.system import views as system       # address, time, storage, logs, backup and restore
    app.register_blueprint(lines.bp)
    app.register_blueprint(system.bp)
    from web.callcenter import views as callcenter   # IVR menus, queues, hours and holidays, inbound routes
    app.register_blueprint(callcenter.bp)

    _register_errors(app)
    _register_template_helpers(app)
    return app


def _check_flask() -> None:
    """Refuse to start on a Flask that would silently drop the Host check or the restore limit."""
    from flask import Request
    if "TRUSTED_HOSTS" not in Flask.default_config or getattr(Request.max_content_length, "fset", None) is None:
        raise RuntimeError("the setup page needs Flask 3.1 or newer (TRUSTED_HOSTS, per-request "
                           "max_content_length)")


#: A greeting upload (20 MB) and the form around it.
MAX_UPLOAD_BYTES = 21 * 1024 * 1024
#: A backup to restore: up to a few greetings of 20 MB each, base64-encoded, in JSON.
RESTORE_MAX_BYTES = 200 * 1024 * 1024
RESTORE_ENDPOINTS = ("system.restore", "api.restore")


def _restore_size_limit():
    """``before_request``: the restore endpoints take bigger bodies than the rest (Flask >= 3.1)."""
    if request.endpoint in RESTORE_ENDPOINTS:
        from flask import current_app
        request.max_content_length = int(current_app.config["RESTORE_MAX_BYTES"])


def _register_errors(app: Flask) -> None:
    from flask_babel import gettext

    def page_or_json(status: int, message: str):
        if request.blueprint == "api" or request.path.startswith("/api/"):
            return jsonify({"error": message}), status
        return render_template("errors/error.html", status=status, message=message), status

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return page_or_json(400, gettext("The form has expired or did not come from this box. "
                                         "Reload the page and try again."))

    @app.errorhandler(403)
    def forbidden(exc):
        return page_or_json(403, gettext("You may not open this page."))

    @app.errorhandler(404)
    def not_found(exc):
        return page_or_json(404, gettext("There is no such page."))

    @app.errorhandler(405)
    def not_allowed(exc):
        return page_or_json(405, gettext("This action is not possible here."))

    @app.errorhandler(413)
    def too_large(exc):
        if request.endpoint in RESTORE_ENDPOINTS:
            return page_or_json(413, gettext("The backup is too large (at most %(mb)d MB).",
                                             mb=int(app.config["RESTORE_MAX_BYTES"]) // (1024 * 1024)))
        return page_or_json(413, gettext("The file is too large (at most 20 MB)."))

    @app.errorhandler(StoreBusyError)
    def busy(exc):
        log.warning("config store busy: %s", exc)
        return page_or_json(503, gettext("The box is busy saving another change. Try again in a moment."))

    @app.errorhandler(500)
    def internal(exc):
        return page_or_json(500, gettext("Something went wrong inside the box. The error was logged."))


def _register_template_helpers(app: Flask) -> None:
    from web import i18n
    from web.box import get_box
    from web.security import current_user

    @app.context_processor
    def page_globals():
        language = i18n.page_language()
        return {"current_user": current_user(), "setup_done": get_box().state.wizard_done(),
                "page_language": language, "html_lang": "zh-Hans" if language == "zh" else "en",
                "language_names": i18n.LANGUAGE_NAMES, "version": __version__}
