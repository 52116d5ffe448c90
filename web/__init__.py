"""The setup page and dashboard (Flask). Not built yet: see docs/architecture.md."""
