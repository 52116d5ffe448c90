"""Reports over a range of days (admin only; blueprint ``reports``).

``compute.py`` builds the figures from the call records and the queue
log (read-only); ``views.py`` is the page, whose charts
``static/reports.js`` draws as inline SVG from the figures embedded in
the page. ``GET /api/reports`` returns the same figures as JSON.
"""
