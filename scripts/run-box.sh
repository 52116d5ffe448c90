#!/usr/bin/env bash
# Installs what is missing, then starts the whole box in the foreground:
# Kamailio (phones register at sip:127.0.0.1:5060) and the core. Ctrl-C stops it.
# Arguments go to `smallpbx run` (e.g. --sip-bind 192.168.1.10).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/smallpbx --data "${SMALLPBX_DATA:-/var/lib/smallpbx}" run "$@"
