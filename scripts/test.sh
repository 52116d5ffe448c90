#!/usr/bin/env bash
# Installs what the tests need, then runs the whole test suite: fast unit
# tests and real-peer integration tests (Kamailio, SIPp, pjsua2 phones) on
# loopback. Arguments go to pytest (e.g. tests/unit, -k echo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --test
exec .venv/bin/python -m pytest "$@"
