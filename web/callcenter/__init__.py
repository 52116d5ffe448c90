"""The call center pages (admin only): IVR menus, queues, business hours and
holidays, inbound routes, after the wizard. ``views.py`` (pages),
``forms.py``, ``service.py`` (changes through the config store, shared with
the API), ``targets.py`` (destinations: choices, names, prompts)."""
