"""An extension removed on the command line takes its agent's web login with it."""
import json

from boxtools import run_cli
from webtools import run_wizard


def test_cli_extension_remove_also_removes_the_agents_web_login(app, client, data_dir):
    run_wizard(client, extensions=(("201", "Ann"), ("202", "Bo")), web_login=True)
    users = json.loads((data_dir / "web" / "users.json").read_text())["users"]
    assert any(u.get("extension") == "201" for u in users.values())
    from firmware.config.store import ConfigStore

    def drop_member(tables):                       # the wizard's queue holds 201: free it first
        for queue in tables["queues"]:
            queue["members"] = [m for m in queue["members"] if m != "201"]
    ConfigStore(data_dir).update_callcenter(drop_member)
    out = run_cli(data_dir, "extension", "remove", "201")
    assert "web login" in out.stdout
    users = json.loads((data_dir / "web" / "users.json").read_text())["users"]
    assert not any(u.get("extension") == "201" for u in users.values())
    assert any(u.get("extension") == "202" for u in users.values())      # the others stay
    # And the page can make 201 again with a web login.
    from webtools import post
    r = post(client, "/extensions/", {"number": "201", "name": "Ann again", "web_login": "y"})
    assert r.status_code in (200, 201), r.get_data(as_text=True)[:300]
