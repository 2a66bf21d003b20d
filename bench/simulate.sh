#!/usr/bin/env bash
# `warden policy simulate --batch` end to end: N requests (default 100,000) that share one rendered
# 20-consumer bucket policy and 20 consumer-role policies, half inside a grant and half outside,
# as JSON Lines through the release binary. Prints decisions/s (best of REPEAT runs, default 3)
# on one core (`--jobs 1`, pinned with taskset) and on all cores (the default), and checks every
# line got a decision, the allowed/denied split is the expected one, and both runs wrote the same
# results.
# usage: bench/simulate.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
repeat=${REPEAT:-3}
cargo build --release --locked -q -p warden-cli
warden="$(bash scripts/target-dir.sh)/release/warden"
grants=fixtures/grants/consumers-20.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$warden" policy render --grants "$grants" --format json >"$work/render.json"
python3 - "$n" "$work" "$grants" <<'PY'
import json, os, sys
n, work, grants = int(sys.argv[1]), sys.argv[2], sys.argv[3]
r = json.load(open(os.path.join(work, "render.json")))
bucket = r["bucket_policy"]["policy"]
accounts = json.load(open(grants))["consumer_accounts"]
bucket_name = json.load(open(grants)).get("bucket_name", "warden-shared-data")
primary = json.load(open(grants))["primary_account_id"]
with open(os.path.join(work, "requests.jsonl"), "w") as out:
    for i in range(n):
        a = accounts[i % len(accounts)]
        other = accounts[(i + 1) % len(accounts)]
        # Even lines inside the account's first prefix, odd lines inside another account's.
        prefix = a["allowed_prefixes"][0] if i % 2 == 0 else other["allowed_prefixes"][0]
        role = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{bucket_name}/{p}*" for p in a["allowed_prefixes"]]}]}
        out.write(json.dumps({
            "principal": f"arn:aws:sts::{a['account_id']}:assumed-role/warden-consumer/s{i}",
            "action": "s3:GetObject",
            "resource": f"arn:aws:s3:::{bucket_name}/{prefix}2026/11/part-{i:06d}.parquet",
            "resource_account": primary,
            "context": {"aws:SecureTransport": "true", "aws:CurrentTime": "2026-11-22T10:00:00Z"},
            "identity_policies": [role],
            "resource_policy": bucket,
        }) + "\n")
json.dump(bucket, open(os.path.join(work, "bucket.json"), "w"))
# The same requests naming the bucket policy defined once (--policy bucket=FILE).
with open(os.path.join(work, "requests.jsonl")) as inp, open(os.path.join(work, "requests-ref.jsonl"), "w") as out:
    for line in inp:
        r = json.loads(line)
        r["resource_policy"] = {"$ref": "bucket"}
        out.write(json.dumps(r) + "\n")
# Flush the 1.8 GB just written before timing: otherwise the runs race the kernel's writeback
# and measure the disk, not the simulator.
os.sync()
print(f"{n} requests, {os.path.getsize(os.path.join(work, 'requests.jsonl')) / 1e6:.1f} MB, one {len(json.dumps(bucket))}-byte bucket policy")
PY
python3 - "$n" "$repeat" "$warden" "$work" <<'PY'
import collections, json, os, subprocess, sys, time
n, repeat, warden, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ref = ["--policy", "bucket=" + os.path.join(work, "bucket.json")]
one, cores = ["taskset", "-c", "0"], []
runs = {
    "inline policy, --jobs 1": ("requests.jsonl", one, ["--jobs", "1"]),
    "inline policy, all cores": ("requests.jsonl", cores, []),
    "--policy bucket=FILE, --jobs 1": ("requests-ref.jsonl", one, ref + ["--jobs", "1"]),
    "--policy bucket=FILE, all cores": ("requests-ref.jsonl", cores, ref),
}
first = None
for label, (name, pin, extra) in runs.items():
    best = float("inf")
    for _ in range(repeat):
        with open(os.path.join(work, name)) as inp, open(os.path.join(work, "results.jsonl"), "w") as out:
            t = time.perf_counter()
            subprocess.run([*pin, warden, "policy", "simulate", "--batch", *extra], stdin=inp, stdout=out, check=True)
            best = min(best, time.perf_counter() - t)
    decisions = collections.Counter()
    with open(os.path.join(work, "results.jsonl"), "rb") as f:
        text = f.read()
    if first is None:
        first = text
    elif text != first:
        sys.exit(f"{label}: results differ from the first run's")
    for i, line in enumerate(text.splitlines()):
        r = json.loads(line)
        if "error" in r:
            sys.exit(f"line {i + 1}: {r['error']}")
        decisions[r["decision"]] += 1
    if sum(decisions.values()) != n or decisions["Allowed"] != n // 2:
        sys.exit(f"unexpected decisions: {dict(decisions)}")
    size = os.path.getsize(os.path.join(work, name)) / 1e6
    print(f"simulate --batch, {label:<32} {n} requests ({size:7.1f} MB)  {best:6.2f} s  {n / best:>10,.0f} decisions/s end to end  ({dict(decisions)}, best of {repeat})")
PY
