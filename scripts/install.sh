#!/usr/bin/env bash
# Installs everything SmallPBX needs on Debian 12, as root: Debian packages
# and a virtualenv in .venv with the box installed in it. Safe to run again:
# it only installs what is missing.
#
#   scripts/install.sh          what the box needs to run
#   scripts/install.sh --test   plus what the tests and benchmarks need
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(kamailio espeak-ng sox libsox-fmt-mp3 fonts-wqy-microhei python3 python3-venv procps)
if [[ "${1:-}" == "--test" ]]; then
    # SIPp is a test peer; systemd-analyze checks the units; jackd2's dummy
    # backend is the paced sound card; Chromium runs the browser tests.
    packages+=(sip-tester systemd iproute2 jackd2 libportaudio2 chromium)
fi

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's own Kamailio service would take port 5060 with /etc/kamailio's
# config; SmallPBX runs its own Kamailio with a generated config.
if [[ -d /run/systemd/system ]] && systemctl is-enabled --quiet kamailio.service 2>/dev/null; then
    systemctl disable --now kamailio.service
fi

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
extra=""
[[ "${1:-}" == "--test" ]] && extra="[test]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extra}"
