"""Writes the config store in a loop, for the kill -9 test.

After each write returns it prints the sequence number it wrote, so the
test knows which version was committed when it kills this process.
"""
import sys
from pathlib import Path

from tinydb import Query

from firmware.config.store import ConfigStore

store = ConfigStore(Path(sys.argv[1])).open()
i = int(sys.argv[2])
while True:
    i += 1
    with store.write() as db:
        db.table("extensions").update({"name": f"v{i}"}, Query().number == "101")
    print(i, flush=True)
