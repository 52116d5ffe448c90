"""The ``smallpbx`` command: the box's one composition root.

Nothing else constructs the world: each sub-command wires the config
store, the core, Kamailio and (later) hardware and the web page together.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from firmware import __version__
from firmware.config import extensions as ext_api
from firmware.config.store import ConfigStore
from firmware.core.control import ControlClient
from firmware.errors import ConfigError, ControlError, SmallPbxError
from firmware.paths import DEFAULT_DATA_DIR, BoxPaths, Ports
from firmware.proxy import kamailio

log = logging.getLogger("smallpbx")


def _add_port_options(p: argparse.ArgumentParser) -> None:
    d = Ports()
    p.add_argument("--sip-bind", default=d.sip_bind, help="address phones reach (default %(default)s)")
    p.add_argument("--sip-port", type=int, default=d.sip_port, help="SIP port for phones (default %(default)s)")
    p.add_argument("--core-port", type=int, default=d.core_port, help="core's SIP port on 127.0.0.1")
    p.add_argument("--internal-port", type=int, default=d.internal_port, help="Kamailio's port facing the core")
    p.add_argument("--rtp-port", type=int, default=d.rtp_port, help="first RTP port of the core")
    p.add_argument("--trunk-port", type=int, default=d.trunk_port,
                   help="SIP port for providers' trunks (default %(default)s)")


def _ports(args) -> Ports:
    return Ports(sip_bind=args.sip_bind, sip_port=args.sip_port, core_port=args.core_port,
                 internal_port=args.internal_port, rtp_port=args.rtp_port, trunk_port=args.trunk_port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smallpbx", description="SmallPBX, the shop's phone system.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR,
                        help="data directory (default %(default)s, or $SMALLPBX_DATA)")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("--version", action="version", version=f"smallpbx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="start the whole box in the foreground")
    _add_port_options(run)
    run.add_argument("--web-port", type=int, default=8080,
                     help="the setup page's HTTP port on --sip-bind (0: no web page; default %(default)s)")
    core = sub.add_parser("core", help="run only the core daemon (systemd unit)")
    _add_port_options(core)
    kam = sub.add_parser("kamailio", help="generate Kamailio's cfg and run it (systemd unit)")
    _add_port_options(kam)

    status = sub.add_parser("status", help="registrations, calls, capacity, versions")
    status.add_argument("--json", action="store_true")

    call = sub.add_parser("call", help="have the box call an extension")
    call.add_argument("extension")
    call.add_argument("--app", choices=["echo", "playback"], default="playback")

    ext = sub.add_parser("extension", help="manage extensions (phones)")
    esub = ext.add_subparsers(dest="action", required=True)
    add = esub.add_parser("add", help="create an extension; prints its password once")
    add.add_argument("number")
    add.add_argument("--name", default="")
    add.add_argument("--password", help="default: a generated strong password")
    esub.add_parser("list")
    show = esub.add_parser("show")
    show.add_argument("number")
    rm = esub.add_parser("remove")
    rm.add_argument("number")
    pw = esub.add_parser("passwd", help="set a new password; prints it once")
    pw.add_argument("number")
    pw.add_argument("--password")

    config = sub.add_parser("callcenter", help="routes, IVR menus and queues (JSON)")
    csub = config.add_subparsers(dest="action", required=True)
    cload = csub.add_parser("load", help="replace routes, menus and queues from a JSON file")
    cload.add_argument("file", type=Path)
    csub.add_parser("show", help="print routes, menus and queues as JSON")

    agent = sub.add_parser("agent", help="queue agents: login, logout, pause, unpause")
    agent.add_argument("action", choices=["login", "logout", "pause", "unpause"])
    agent.add_argument("extension")
    agent.add_argument("--reason", default="break")

    web = sub.add_parser("web", help="the setup page and dashboard (systemd: smallpbx-web.service)")
    web.add_argument("--host", default="0.0.0.0", help="address to serve on (default %(default)s)")
    web.add_argument("--port", type=int, default=8080, help="HTTP port (default %(default)s)")
    web.add_argument("--sip-port", type=int, default=Ports().sip_port, help="SIP port shown to phones")

    lines = sub.add_parser("lines", help="the phone lines: state, signal, recent events")
    lines.add_argument("--json", action="store_true")

    sms = sub.add_parser("sms", help="text messages through the lines")
    ssub = sms.add_subparsers(dest="action", required=True)
    ssend = ssub.add_parser("send", help="send a text (any language)")
    ssend.add_argument("number")
    ssend.add_argument("text")
    ssend.add_argument("--line", help="the line to send through (default: the first one up)")
    slist = ssub.add_parser("list", help="texts received and sent, newest first")
    slist.add_argument("--json", action="store_true")
    slist.add_argument("--limit", type=int, default=50)

    sim = sub.add_parser("sim", help="the simulated modem of 'smallpbx run' (no hardware): call, keys, texts, faults")
    simsub = sim.add_subparsers(dest="action", required=True)
    sring = simsub.add_parser("ring", help="a simulated incoming call to the box's line")
    sring.add_argument("--from", dest="number", default="13800138000")
    simsub.add_parser("hangup", help="the simulated caller hangs up")
    simsub.add_parser("answer", help="the far end of the box's outgoing call answers")
    skeys = simsub.add_parser("dtmf", help="the simulated caller presses keys")
    skeys.add_argument("digits")
    stext = simsub.add_parser("sms", help="a text arrives at the box's line")
    stext.add_argument("text")
    stext.add_argument("--from", dest="number", default="13800138000")
    sfault = simsub.add_parser("fault", help="make the modem misbehave (or 'none')")
    sfault.add_argument("mode", choices=["none", "hang", "garbage", "reboot", "sim-missing", "no-network", "slow"])
    simsub.add_parser("state", help="what the simulated modem is doing")

    vm = sub.add_parser("voicemail", help="mailbox PINs and messages")
    vsub = vm.add_subparsers(dest="action", required=True)
    vpin = vsub.add_parser("pin", help="set a mailbox's PIN (4-8 digits)")
    vpin.add_argument("mailbox")
    vpin.add_argument("--pin", help="default: asked without echo")
    vlist = vsub.add_parser("list", help="messages in a mailbox, newest first")
    vlist.add_argument("mailbox")

    prompt = sub.add_parser("prompt", help="replace a voice prompt with your own recording")
    psub = prompt.add_subparsers(dest="action", required=True)
    pset = psub.add_parser("set", help="use a WAV or MP3 file for a prompt (converted to 8 kHz mono)")
    pset.add_argument("name")
    pset.add_argument("file", type=Path)
    pset.add_argument("--lang", default="en", choices=["en", "zh_CN"])
    preset = psub.add_parser("reset", help="go back to the default prompt")
    preset.add_argument("name")
    preset.add_argument("--lang", default="en", choices=["en", "zh_CN"])
    prec = psub.add_parser("record", help="record a prompt by phone: the box rings the extension; "
                                          "speak after the beep, then # or hang up")
    prec.add_argument("name")
    prec.add_argument("--extension", required=True)
    prec.add_argument("--lang", default="en", choices=["en", "zh_CN"])

    tcall = sub.add_parser("test-call", help="call a number through a line and play a test message")
    tcall.add_argument("line")
    tcall.add_argument("number")

    panel = sub.add_parser("panel", help="the front panel: page, LEDs, and a picture of the display")
    panel.add_argument("--png", type=Path, help="save the display as a PNG")

    override = sub.add_parser("override", help="day/night: force a time condition open or closed")
    override.add_argument("id")
    override.add_argument("mode", choices=["open", "closed", "auto"])

    restart = sub.add_parser("restart", help="restart the core (calls, lines, menus, panel)")
    restart.add_argument("when", nargs="?", choices=["idle", "now", "cancel"], default="idle",
                         help="idle (default): once no call is up, answering calls meanwhile; "
                              "now: cut the calls in progress; cancel: a pending restart")

    settings = sub.add_parser("settings", help="show or change box settings")
    ssub = settings.add_subparsers(dest="action", required=True)
    ssub.add_parser("show")
    sset = ssub.add_parser("set")
    sset.add_argument("field")
    sset.add_argument("value")
    return parser


def _apply(paths: BoxPaths, store: ConfigStore) -> str:
    """Make a config change take effect: ask a running core to reload."""
    try:
        ControlClient(paths.control_socket, timeout=5).request("reload")
        return "the running box reloaded its configuration"
    except ControlError:
        if paths.proxy_run.exists():
            # The core is down; keep Kamailio's credentials true meanwhile.
            kamailio.write_credentials(paths.proxy_run / "db", store.extensions())
        return "the box is not running; the change takes effect when it starts"


def _cmd_extension(args, paths: BoxPaths) -> int:
    store = ConfigStore(paths.data).open()
    if args.action == "add":
        password = ext_api.add(store, args.number, args.name, args.password)
        print(f"extension {args.number} created")
        print(f"  SIP user:     {args.number}")
        print(f"  SIP password: {password}    (shown once; store it in the phone now)")
        print(f"  realm:        {store.settings()['realm']}")
        print(_apply(paths, store))
    elif args.action == "list":
        for e in store.extensions():
            print(f"{e['number']:>6}  {e['name']}")
    elif args.action == "show":
        e = ext_api.get(store, args.number)
        print(json.dumps({k: e[k] for k in ("number", "name", "created") if k in e}, ensure_ascii=False, indent=1))
    elif args.action == "remove":
        ext_api.remove(store, args.number)
        print(f"extension {args.number} removed")
        # The agent's login to the setup page goes with the extension (the
        # web's own store, under its lock).
        users = paths.data / "web" / "users.json"
        if users.exists():
            from web.auth.users import UserStore
            for name in UserStore(users).remove_extension_logins(args.number):
                print(f"web login {name} removed")
        print(_apply(paths, store))
    elif args.action == "passwd":
        password = ext_api.set_password(store, args.number, args.password)
        print(f"new SIP password for {args.number}: {password}    (shown once)")
        print(_apply(paths, store))
    return 0


def _coerce(value: str, field: str = ""):
    from firmware.config.schema import DEFAULT_SETTINGS
    if isinstance(DEFAULT_SETTINGS.get(field), str):
        return value            # text settings stay text, even when all digits (a phone number)
    if value in ("", "none", "null"):
        return None
    if value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    try:
        return int(value)
    except ValueError:
        return value


def _cmd_settings(args, paths: BoxPaths) -> int:
    store = ConfigStore(paths.data).open()
    if args.action == "show":
        print(json.dumps(store.settings(), ensure_ascii=False, indent=1))
        return 0
    if args.field == "realm" and store.extensions():
        raise ConfigError("settings.realm", "cannot change while extensions exist (their passwords depend on it)")
    store.update_settings(**{args.field: _coerce(args.value, args.field)})
    print(f"{args.field} set")
    print(_apply(paths, store))
    return 0


def _cmd_voicemail(args, paths: BoxPaths) -> int:
    from firmware.config.callcenter import build
    from firmware.records.voicemail import Voicemail, hash_pin
    store = ConfigStore(paths.data).open()
    if args.mailbox not in build(store.read_document()).mailboxes:
        raise ConfigError(f"voicemail.{args.mailbox}", "no such mailbox (an extension number or a voicemail id)")
    if args.action == "pin":
        import getpass
        pin = args.pin if args.pin is not None else getpass.getpass("new PIN: ")
        store.set_mailbox_pin(args.mailbox, hash_pin(pin))
        print(f"PIN of mailbox {args.mailbox} set")
        print(_apply(paths, store))
        return 0
    for message in Voicemail(paths.data / "voicemail").messages(args.mailbox):
        from datetime import datetime
        when = datetime.fromtimestamp(message.time).strftime("%Y-%m-%d %H:%M")
        print(f"{when}  from {message.caller:<16} {message.seconds:5.1f} s  {message.id}")
    return 0


def _cmd_callcenter(args, paths: BoxPaths) -> int:
    store = ConfigStore(paths.data).open()
    if args.action == "show":
        print(json.dumps(store.callcenter_tables(), ensure_ascii=False, indent=1))
        return 0
    try:
        tables = json.loads(args.file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(str(args.file), f"cannot be read as JSON: {exc}") from None
    if not isinstance(tables, dict):
        raise ConfigError(str(args.file), "must hold an object with routes, menus and queues")
    store.replace_callcenter(tables)
    print("routes, menus and queues saved")
    print(_apply(paths, store))
    return 0


def _follow_service_call(paths: BoxPaths, job: dict, timeout: float = 200.0) -> int:
    """Print a service call's states until it is over; 0 if it succeeded."""
    client = ControlClient(paths.control_socket)
    seen, deadline = None, time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job["state"] != seen:
            seen = job["state"]
            print(f"{job['kind']} {job['target']}: {seen}", flush=True)
        if seen in ("saved", "done") or seen.startswith("failed"):
            return 0 if seen in ("saved", "done") else 1
        time.sleep(0.5)
        job = client.request("service-call", id=job["id"])
    return 1


def _cmd_lines(args, paths: BoxPaths) -> int:
    client = ControlClient(paths.control_socket)
    lines, events = client.request("lines"), client.request("line-events", limit=10)
    if args.json:
        print(json.dumps({"lines": lines, "events": events}, ensure_ascii=False, indent=1))
        return 0
    if not lines:
        print("no lines configured (add one under 'lines' with 'smallpbx callcenter load')")
    for line in lines:
        signal = "-" if line["signal_dbm"] is None else f"{line['signal_dbm']} dBm"
        detail = f" ({line['detail']})" if line["detail"] else ""
        print(f"{line['name']:<10} {line['kind']:<4} {line['state']}{detail}  signal {signal}  "
              f"route {line['route']}  {'in a call' if line['call'] is not None else 'idle'}")
    for event in events:
        from datetime import datetime
        when = datetime.fromtimestamp(event["time"]).strftime("%Y-%m-%d %H:%M:%S")
        print(f"  {when} {event['line']} -> {event['state']} {event['detail']}")
    return 0


def _cmd_sms(args, paths: BoxPaths) -> int:
    client = ControlClient(paths.control_socket)
    if args.action == "send":
        result = client.request("sms-send", number=args.number, text=args.text, line=args.line)
        print(f"text #{result['id']} queued on line {result['line']}")
        return 0
    messages = client.request("sms-list", limit=args.limit)
    if args.json:
        print(json.dumps(messages, ensure_ascii=False, indent=1))
        return 0
    from datetime import datetime
    for m in messages:
        when = datetime.fromtimestamp(m["time"]).strftime("%Y-%m-%d %H:%M")
        arrow = "from" if m["direction"] == "in" else "to  "
        print(f"{when} {m['line']} {arrow} {m['number']:<16} [{m['status']}] {m['text']}")
    return 0


def _print_status(status: dict) -> None:
    cap = status["capacity"]
    print(f"SmallPBX {status['version']}  (pjsua {status['pjsua']}, {status['proxy']})")
    print(f"uptime {status['uptime']} s")
    print(f"capacity: {cap['in_use']}/{cap['limit']} calls in use (engine slots {cap['engine_limit']}, "
          f"refused {cap['refused'] + cap['refused_by_engine']})")
    regs = status["registrations"]
    print(f"registrations: {len(regs)}")
    for r in regs:
        print(f"  {r['user']:>6}  {r['contact']}  expires in {r['expires']} s  {r['user_agent']}")
    print(f"calls: {len(status['calls'])}")
    for c in status["calls"]:
        print(f"  #{c['id']} {c['direction']} {c['caller']} -> {c['dialed']} [{c['app']}] {c['state']} {c['duration']} s")
    center = status.get("callcenter") or {}
    today = {t["queue"]: t for t in center.get("today", [])}
    for q in center.get("queues", []):
        t = today.get(q["id"], {})
        pct = lambda v: "-" if v is None else f"{100 * v:.0f}%"  # noqa: E731
        secs = lambda v: "-" if v is None else f"{v:.0f} s"  # noqa: E731
        print(f"queue {q['id']} ({q['strategy']}): {q['waiting']} waiting, longest {q['longest_wait_s']} s")
        print(f"  today: offered {t.get('offered', 0)}, answered {t.get('answered', 0)}, "
              f"abandoned {t.get('abandoned', 0)} ({pct(t.get('abandon_rate'))}), "
              f"service level {pct(t.get('service_level'))} within {t.get('service_level_threshold_s', 15):.0f} s "
              f"({pct(t.get('service_level_with_abandons'))} counting abandons), "
              f"ASA {secs(t.get('average_speed_of_answer_s'))}, talk {secs(t.get('average_talk_time_s'))}")
    for a in center.get("agents", []):
        reason = f" ({a['pause_reason']})" if a["pause_reason"] else ""
        print(f"  agent {a['extension']} {a['name']}: {a['state']}{reason} for {a['in_state_s']} s, "
              f"{a['calls']} calls, talk {a['talk_time_s']} s")
    for line in status.get("lines", []):
        signal = "-" if line["signal_dbm"] is None else f"{line['signal_dbm']} dBm"
        print(f"line {line['name']} ({line['kind']}): {line['state']}, signal {signal}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    if args.verbose < 2:
        logging.getLogger("pjsua").setLevel(logging.WARNING)
    paths = BoxPaths(args.data.resolve())
    try:
        if args.command == "run":
            from firmware.supervisor import run_box
            return run_box(paths, _ports(args), args.verbose, web_port=args.web_port)
        if args.command == "core":
            from firmware.core.daemon import CoreDaemon
            code = CoreDaemon(paths, _ports(args)).run()
            # pjsua2 is destroyed; skip interpreter teardown, whose late SWIG
            # destructors would abort the process (engine.py explains).
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        if args.command == "kamailio":
            from firmware.supervisor import exec_kamailio
            exec_kamailio(paths, _ports(args))
            return 1
        if args.command == "status":
            status = ControlClient(paths.control_socket).request("status")
            if args.json:
                print(json.dumps(status, ensure_ascii=False, indent=1))
            else:
                _print_status(status)
            return 0
        if args.command == "call":
            result = ControlClient(paths.control_socket).request("originate", extension=args.extension, app=args.app)
            print(f"calling {args.extension} (call #{result['id']})")
            return 0
        if args.command == "extension":
            return _cmd_extension(args, paths)
        if args.command == "settings":
            return _cmd_settings(args, paths)
        if args.command == "panel":
            info = ControlClient(paths.control_socket).request("panel")
            print(f"page: {info['page']}   display: {'ok' if info['display'] else 'missing'}")
            for name, mode in info["leds"].items():
                print(f"  LED {name:<8} {mode}")
            if args.png:
                import base64
                args.png.write_bytes(base64.b64decode(info["png_base64"]))
                print(f"display saved to {args.png}")
            return 0
        if args.command == "prompt":
            from firmware.core.prompts import PROMPT_NAME, install_custom_prompt
            if args.action == "record":
                return _follow_service_call(paths, ControlClient(paths.control_socket).request(
                    "record-prompt", extension=args.extension, name=args.name, language=args.lang))
            if args.action == "set":
                path = install_custom_prompt(paths.prompts, args.name, args.lang, args.file)
                print(f"prompt {args.name} ({args.lang}) now plays {path.name} from {path.parent}")
            else:
                if not PROMPT_NAME.match(args.name):
                    raise ConfigError("prompt.name", "must be letters, digits, '-' or '_'")
                (paths.prompts / "custom" / args.lang / f"{args.name}.wav").unlink(missing_ok=True)
                print(f"prompt {args.name} ({args.lang}) is the default again")
            return 0
        if args.command == "test-call":
            return _follow_service_call(paths, ControlClient(paths.control_socket).request(
                "test-call", line=args.line, number=args.number))
        if args.command == "voicemail":
            return _cmd_voicemail(args, paths)
        if args.command == "override":
            result = ControlClient(paths.control_socket).request(
                "override", id=args.id, mode=None if args.mode == "auto" else args.mode)
            print(f"time condition {result['id']}: {result['override']}")
            return 0
        if args.command == "restart":
            result = ControlClient(paths.control_socket).request("restart", when=args.when)
            print({"now": "the core is restarting",
                   "idle": "the core restarts once no call is up ('smallpbx restart cancel' to stop it)",
                   None: "pending restart cancelled" if result.get("cancelled") else "no restart was pending",
                   }[result["restart"]])
            return 0
        if args.command == "callcenter":
            return _cmd_callcenter(args, paths)
        if args.command == "web":
            from web.server import serve
            serve(paths.data, args.host, args.port, config={"SIP_PORT": args.sip_port})
            return 0
        if args.command == "lines":
            return _cmd_lines(args, paths)
        if args.command == "sms":
            return _cmd_sms(args, paths)
        if args.command == "sim":
            result = ControlClient(paths.sim_socket).request(args.action, **{
                k: v for k, v in vars(args).items() if k in ("number", "digits", "text", "mode")})
            print(json.dumps(result, ensure_ascii=False))
            return 0
        if args.command == "agent":
            result = ControlClient(paths.control_socket).request(
                f"agent-{args.action}", extension=args.extension, reason=args.reason)
            print(f"agent {result['extension']}: {result['state']}")
            return 0
    except ConfigError as exc:
        print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
        return 2
    except SmallPbxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 1
