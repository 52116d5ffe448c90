"""The reports page (admin): calls per hour, service level and abandon rate
per day, queues and agents over a range of days (the last four weeks by default).

The page carries the figures as JSON (``<script type="application/json">``,
data, not code: the CSP allows no inline script) and ``static/reports.js``
draws the two charts from them as inline SVG; the tables are plain HTML.
"""
from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.datastructures import MultiDict

from firmware.errors import ConfigError
from web.box import get_box, get_calllog
from web.i18n import translate_error
from web.records.history import parse_range
from web.records.views import duration
from web.reports import compute
from web.security import admin_required

bp = Blueprint("reports", __name__, url_prefix="/reports")


def figures(args) -> dict:
    """The report for a query string's ``from``/``to`` (:raises ConfigError: a refused date)."""
    box = get_box()
    start, end = parse_range(args, box, default_days=compute.DEFAULT_DAYS, max_days=compute.MAX_DAYS)
    return compute.build(box, get_calllog(), start, end)


@bp.route("/")
@admin_required
def index():
    error, status = None, 200
    try:
        report = figures(request.args)
    except ConfigError as exc:
        error = {"field": exc.field, "message": translate_error(exc.message)}
        report, status = figures(MultiDict()), 400
    values = {"from": request.args.get("from") or report["from"], "to": request.args.get("to") or report["to"]}
    return render_template("reports/index.html", report=report, values=values, error=error,
                           duration=duration, sl_default=compute.SL_DEFAULT_S), status
