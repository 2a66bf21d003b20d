#!/usr/bin/env bash
# Runs every unit, integration and property test of the workspace.
# Uses cargo-nextest when installed (faster, isolated), plain cargo test otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
# The adapters' and functions' integration tests run against the local emulator.
WARDEN_MOTO_ENDPOINT=$(bash scripts/moto.sh start)
export WARDEN_MOTO_ENDPOINT
trap 'bash scripts/moto.sh stop' EXIT
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  # nextest does not run doctests.
  cargo test --workspace --locked --doc
else
  echo "cargo-nextest not found: using cargo test"
  cargo test --workspace --locked --no-fail-fast
fi
