"""Call history, recordings and voicemail pages (one blueprint, ``records``).

- ``history.py``: the filters of the history (parsed from a query string,
  with the role applied), the rows as pages and the API show them, and
  the CSV export;
- ``files.py``: recordings and voicemail messages on disk, reached only
  through opaque ids (a call's uid, a message's id) and checked to lie
  inside their folder;
- ``views.py``: the pages ``/history/``, ``/recordings/``, ``/voicemail/``.

The JSON API for the same things is in ``web/api/views.py``. Everything
here reads ``DATA/records.db`` read-only (:mod:`web.calllog`); the only
change it makes is deleting a voicemail message.
"""
