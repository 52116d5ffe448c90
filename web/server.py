"""Serve the web app with waitress (a production WSGI server, pure Python).

``smallpbx web --data DIR --port 8080`` (and ``smallpbx run``) call
:func:`serve`; ``python -m web --data DIR`` does the same on its own.
Waitress runs the app on a small thread pool; the app's shared state
(users, state files, throttle table) is locked accordingly.

Behind a TLS reverse proxy, pass ``trusted_proxy`` (the proxy's address, or
``*``): waitress then takes ``X-Forwarded-Proto`` and ``X-Forwarded-For``
from it (and only from it), so ``request.is_secure`` (and with it the
session cookie's Secure flag) and the client address the login throttle
counts are the browser's, not the proxy's. The proxy must pass the
``Host`` header on unchanged (or its name must be in ``TRUSTED_HOSTS``).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from waitress.server import create_server

from web import RESTORE_MAX_BYTES, create_app

log = logging.getLogger(__name__)
THREADS = 4


#: What waitress reads of a request body at most: a backup being restored (200 MB) and its
#: multipart envelope. Every other endpoint is held to 21 MB by Flask (MAX_CONTENT_LENGTH).
MAX_REQUEST_BODY = RESTORE_MAX_BYTES + 1024 * 1024


def make_server(data_dir: Path, host: str, port: int, *, control_socket: Path | None = None,
                config: dict | None = None, trusted_proxy: str | None = None):
    """A waitress server bound to ``host:port`` (port 0: any free one), not yet running.

    ``server.effective_port`` is the bound port; ``server.run()`` serves
    until :func:`stop`.

    :param trusted_proxy: address of a TLS reverse proxy in front (``*``: any);
        its ``X-Forwarded-Proto`` and ``X-Forwarded-For`` are believed.
    """
    app = create_app(data_dir, control_socket=control_socket, config=config)
    proxy = {}
    if trusted_proxy:
        proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_count": 1,
                 "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"}}
    return create_server(app, host=host, port=port, threads=THREADS, ident="SmallPBX",
                         max_request_body_size=MAX_REQUEST_BODY, clear_untrusted_proxy_headers=True, **proxy)


def serve(data_dir: Path, host: str = "0.0.0.0", port: int = 8080, **kwargs) -> None:
    """Run the setup page on ``host:port`` until SIGTERM or Ctrl-C."""
    server = make_server(data_dir, host, port, **kwargs)
    log.info("setup page on http://%s:%s/ (data %s)", host, server.effective_port, data_dir)

    def on_term(*_):
        raise SystemExit(0)       # waitress's run() catches it and stops its worker threads

    signal.signal(signal.SIGTERM, on_term)
    try:
        server.run()
    finally:
        stop(server)
    log.info("setup page stopped")


def stop(server) -> None:
    """Close the listening socket, every open connection and the worker threads.

    Safe from another thread than the one in ``server.run()`` (which then returns).
    """
    from waitress import wasyncore
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=2)
    wasyncore.close_all(getattr(server, "map", None) or server._map)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web", description="SmallPBX setup page (waitress)")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("SMALLPBX_DATA", "/var/lib/smallpbx")))
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--sip-port", type=int, default=5060, help="SIP port phones use (shown with credentials)")
    parser.add_argument("--trusted-proxy", default=None,
                        help="address of a TLS reverse proxy whose X-Forwarded-Proto/-For are believed")
    parser.add_argument("--trusted-host", action="append", default=[],
                        help="another name the box is reached by (besides its addresses and host name); repeatable")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    serve(args.data.resolve(), args.host, args.port, trusted_proxy=args.trusted_proxy,
          config={"SIP_PORT": args.sip_port, "TRUSTED_HOSTS": args.trusted_host})
    return 0
