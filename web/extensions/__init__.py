"""Extensions: views.py (the page), service.py (add/remove/passwords, shared with the API and wizard)."""
