"""The dashboard: views.py (the page), live.py (the live picture, per role)."""
