#!/usr/bin/env bash
# Prints cargo's target directory (honours CARGO_TARGET_DIR and .cargo/config).
cargo metadata --format-version 1 --no-deps --offline 2>/dev/null \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' \
  || echo "${CARGO_TARGET_DIR:-target}"
