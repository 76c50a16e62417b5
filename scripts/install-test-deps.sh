#!/usr/bin/env bash
# Installs the system packages the test suite needs on a Debian machine
# (SoftHSM2 for the PKCS#11 signer tests, Chromium for the dashboard's
# browser tests). Does nothing when they are present.
set -euo pipefail
need=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: need root to apt-get install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
