#!/usr/bin/env bash
# Runs every unit, integration and property test of the workspace.
# Uses cargo-nextest when installed (faster, isolated), plain cargo test otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
# The adapters' and functions' integration tests run against the local emulator.
WARDEN_MOTO_ENDPOINT=$(bash scripts/moto.sh start)
export WARDEN_MOTO_ENDPOINT
trap 'bash scripts/moto.sh stop' EXIT
# warden report's test draws the page in headless Chromium: Debian's package, installed here
# when missing (CI machines start fresh), so the test never silently skips the browser.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the report test"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
      || { echo "test.sh: could not install chromium (apt-get install chromium)" >&2; exit 1; }
  else
    echo "test.sh: chromium is not installed; as root: apt-get install chromium" >&2
    exit 1
  fi
fi
WARDEN_CHROMIUM=$(command -v chromium)
export WARDEN_CHROMIUM
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  # nextest does not run doctests.
  cargo test --workspace --locked --doc
else
  echo "cargo-nextest not found: using cargo test"
  cargo test --workspace --locked --no-fail-fast
fi
