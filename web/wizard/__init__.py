"""The first-boot setup wizard: views.py (steps), forms.py, plan.py (the call center it builds)."""
