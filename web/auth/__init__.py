"""Who may use the box's pages: web users (users.py), login throttling
(throttle.py), and the log-in / log-out / language views (views.py)."""
