#!/usr/bin/env bash
# The test command (README "Run the tests"; CI's .ci/run calls exactly this).
# Installs what the tests need when it is missing (nats-server, python3, chromium, chromium-driver and time from
# Debian's packages), checks
# that no service crate depends on another (scripts/check-deps.py), then runs every
# test in the workspace. Tests start their own nats-server on a free loopback port with a temporary store.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
# The dashboard's browser test (tests/web_browser.rs) drives headless Chromium through chromedriver.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
[ -x /usr/bin/time ] || need_apt+=(time)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "Installing ${need_apt[*]} (needed by the tests)..." >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "error: ${need_apt[*]} missing and apt-get unavailable; install them (nats-server 2.9 or newer) and run again" >&2
    exit 1
  fi
fi

# Architecture check first: a service crate that depends on another service crate fails CI.
python3 scripts/check-deps.py
cargo test --workspace --locked "$@"
