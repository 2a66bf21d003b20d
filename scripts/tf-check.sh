#!/usr/bin/env bash
# The static Terraform checks of every stack under terraform/, then proof that each check catches
# a seeded mistake in fixtures/terraform/ (each fixture must fail, with the expected check named).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/tf-setup.sh
cargo build --quiet --release --locked -p tfcheck
tfcheck="$(bash scripts/target-dir.sh)/release/tfcheck"
args=(--schema .cache/aws-schema-6.25.0.json --checkov .tools/checkov-venv/bin/checkov)
[ -x .tools/tf-venv/bin/python ] && args+=(--fmt-python .tools/tf-venv/bin/python)

echo "== tfcheck: terraform/"
"$tfcheck" check "${args[@]}" terraform/

echo "== tfcheck: seeded mistakes must be caught"
fail=0
for dir in fixtures/terraform/*/; do
  want=$(cat "$dir/EXPECT")
  set +e
  out=$("$tfcheck" check "${args[@]}" "$dir" 2>&1)
  rc=$?
  set -e
  if [ "$rc" -eq 1 ] && grep -qF -- "$want" <<<"$out"; then
    echo "  caught: $(basename "$dir") ($want)"
  else
    echo "  MISSED: $(basename "$dir"): wanted exit 1 with \"$want\", got exit $rc:"
    sed 's/^/    /' <<<"$out"
    fail=1
  fi
done
exit "$fail"
