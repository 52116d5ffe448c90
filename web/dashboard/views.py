"""The dashboard: live lines, agents, callers waiting, today's numbers and a
picture of the front panel (admin); an agent's own state and calls (agent).

The page is a shell; ``static/dashboard.js`` fills it by polling
``GET /api/status`` (and ``/api/panel``) and acts through the API with the
CSRF token from the page's ``<meta name="csrf-token">``.
"""
from __future__ import annotations

from flask import Blueprint, render_template

from web.security import current_user, login_required

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@login_required
def index():
    user = current_user()
    return render_template("dashboard/admin.html" if user.is_admin else "dashboard/agent.html", user=user)
