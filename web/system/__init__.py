"""The system page: the box's address, time, storage, core, logs; backup and restore."""
