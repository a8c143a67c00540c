#!/usr/bin/env bash
# Command-line tools the tests use that are not Python packages, from Debian's packages:
#   kcat      — a Kafka client nobody here wrote, for black-box tests
#   promtool  — checks and unit-tests the Prometheus rules (package prometheus, which also
#               brings the server the end-to-end KPI test scrapes with)
#   chromium  — the browser the workspace's end-to-end tests drive with Playwright
# Installed only when missing; needs root (as on these machines) or passwordless sudo.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing=()
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
  die "missing ${missing[*]}; install with: apt-get install -y ${missing[*]}"
fi
command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get here; install them with your package manager"
log "installing ${missing[*]} from Debian's packages"
$SUDO apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
  || die "could not install ${missing[*]}: apt-get install -y ${missing[*]}"
