"""Call records and queue events on disk (sqlite)."""
