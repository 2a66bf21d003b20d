#!/usr/bin/env bash
# Side by side, in one run: Warden's Rust replay vs a straightforward Python implementation of the
# same parse + normalise + detectors, on the same synthetic CloudTrail files, one core each.
# Prints records/s, the speed-up and peak memory for two sizes (memory must stay flat in N).
# usage: bench/run.sh [N_SMALL] [N_LARGE]
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-50000}
large=${2:-200000}
cargo build --release --locked -q -p warden-cli
warden="$(bash scripts/target-dir.sh)/release/warden"
grants=fixtures/grants/consumers-20.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

measure() { # measure <label> <records> <command...>: wall seconds and peak RSS of the command
  local label=$1 n=$2; shift 2
  python3 - "$label" "$n" "$work/alerts-$label-$n.jsonl" "$@" <<'PY'
import resource, subprocess, sys, time
label, n, out, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
t = time.perf_counter()
with open(out, "w") as alerts:
    subprocess.run(["taskset", "-c", "0"] + cmd, stdout=alerts, stderr=subprocess.DEVNULL, check=False)
dt = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label:<8} {n:>8} records  {dt:7.2f} s  {n / dt:>10,.0f} records/s  peak RSS {rss:7.1f} MB")
print(f"RESULT {label} {n} {n / dt:.0f} {rss:.1f}", file=sys.stderr)
PY
}

for n in "$small" "$large"; do
  "$warden" dev gen-cloudtrail --records "$n" --seed 7 --out-dir "$work/logs-$n" 2>/dev/null
  size=$(du -sm "$work/logs-$n" | cut -f1)
  echo "== $n synthetic S3 data events, ${size} MB of CloudTrail log files"
  measure rust "$n" "$warden" audit replay "$work/logs-$n" --grants "$grants" 2>>"$work/results"
  measure python "$n" python3 bench/pipeline.py "$grants" "$work/logs-$n" 2>>"$work/results"
done
python3 - "$work/results" "$work" <<'PY'
import collections, glob, json, os, sys
# Same work on both sides: the same alerts, detector by detector.
for rust in sorted(glob.glob(os.path.join(sys.argv[2], "alerts-rust-*.jsonl"))):
    py = rust.replace("alerts-rust-", "alerts-python-")
    count = lambda f: collections.Counter(json.loads(l)["detector"] for l in open(f))
    r, p = count(rust), count(py)
    print(f"alerts {os.path.basename(rust)[12:-6]} records: rust {dict(r)}, python {dict(p)}: {'same' if r == p else 'DIFFERENT'}")
rows = [l.split()[1:] for l in open(sys.argv[1]) if l.startswith("RESULT")]
by = {(r[0], r[1]): (float(r[2]), float(r[3])) for r in rows}
ns = sorted({r[1] for r in rows}, key=int)
for n in ns:
    print(f"speed-up at {n}: {by[('rust', n)][0] / by[('python', n)][0]:.1f}x")
print(f"rust peak RSS: {by[('rust', ns[0])][1]:.1f} MB at {ns[0]}, {by[('rust', ns[-1])][1]:.1f} MB at {ns[-1]}")
PY
