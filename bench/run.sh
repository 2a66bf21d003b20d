#!/usr/bin/env bash
# Side by side, in one run: Warden's Rust replay vs a straightforward Python implementation of the
# same parse + normalise + detectors, on the same synthetic CloudTrail files, one core each; the
# Rust replay on every core (--jobs N), with its ratio to --jobs 1 and the same-alerts check; and
# the yardstick, a bare typed serde parse of the same files (`warden dev bare-parse`), one core.
# Prints records/s, the speed-up and peak memory for two sizes (memory must stay flat in N), and
# checks both sides wrote the same alerts, byte for byte. The two run alternately, REPEAT times
# each (default 3), and each side's best time counts: this machine is shared, and its speed drifts
# by up to a third over minutes.
# usage: bench/run.sh [N_SMALL] [N_LARGE]      (REPEAT=5 bench/run.sh for steadier figures)
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-50000}
large=${2:-200000}
repeat=${REPEAT:-3}
cargo build --release --locked -q -p warden-cli
warden="$(bash scripts/target-dir.sh)/release/warden"
grants=fixtures/grants/consumers-20.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# measure <records> <logs dir>: Rust and Python alternately, $repeat times each (so both meet the
# same moments of this shared machine), best wall time and peak RSS of each.
measure() {
  local n=$1 logs=$2
  python3 - "$n" "$repeat" "$work" "$warden" "$grants" "$logs" <<'PY'
import os, subprocess, sys, time
n, repeat, work, warden, grants, logs = int(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:]
cores = os.cpu_count() or 1
# (command, pinned to one core?)
cmds = {
    "rust": ([warden, "audit", "replay", logs, "--grants", grants, "--jobs", "1"], True),
    f"rust-j{cores}": ([warden, "audit", "replay", logs, "--grants", grants, "--jobs", str(cores)], False),
    "python": ([sys.executable, "bench/pipeline.py", grants, logs], True),
    # The yardstick: the same files read and parsed into a bare typed struct, nothing else.
    "bare": ([warden, "dev", "bare-parse", logs], True),
}
best = {k: float("inf") for k in cmds}
rss = {k: 0.0 for k in cmds}
for _ in range(repeat):
    for label, (cmd, pinned) in cmds.items():
        with open(os.path.join(work, f"alerts-{label}-{n}.jsonl"), "w") as alerts:
            t = time.perf_counter()
            child = subprocess.Popen((["taskset", "-c", "0"] if pinned else []) + cmd, stdout=alerts, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            dt = time.perf_counter() - t
        if status != 0:
            sys.exit(f"{label} failed with status {status}")
        best[label] = min(best[label], dt)
        rss[label] = max(rss[label], usage.ru_maxrss / 1024)
for label in cmds:
    print(f"{label:<8} {n:>8} records  {best[label]:7.2f} s  {n / best[label]:>10,.0f} records/s  peak RSS {rss[label]:7.1f} MB  (best of {repeat})")
    print(f"RESULT {label} {n} {n / best[label]:.0f} {rss[label]:.1f}", file=sys.stderr)
PY
}

# Same work on both sides: on the hand-written detector cases (every detector, true and false
# cases, bursts expanded as the Rust fixture test does), the alerts must be identical, byte for byte.
python3 -c '
import copy, datetime, json, sys
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    case = json.loads(line)
    if "repeat" not in case:
        print(json.dumps(case["record"]))
        continue
    start = datetime.datetime.fromisoformat(case["record"]["eventTime"].replace("Z", "+00:00"))
    for i in range(case["repeat"]):
        r = copy.deepcopy(case["record"])
        at = start + datetime.timedelta(seconds=int(i * case["every_seconds"]))
        r["eventTime"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        r["eventID"] = r["eventID"] + "-" + str(i)
        print(json.dumps(r))
' fixtures/cloudtrail/detector-cases.jsonl >"$work/cases.jsonl"
"$warden" audit replay "$work/cases.jsonl" --grants "$grants" >"$work/cases-rust.jsonl" 2>/dev/null
python3 bench/pipeline.py "$grants" "$work/cases.jsonl" >"$work/cases-python.jsonl" 2>/dev/null
if cmp -s "$work/cases-rust.jsonl" "$work/cases-python.jsonl"; then
  echo "detector cases: rust and python wrote the same $(wc -l <"$work/cases-rust.jsonl") alerts ($(python3 -c '
import collections, json, sys
print(", ".join(f"{d} {n}" for d, n in sorted(collections.Counter(json.loads(l)["detector"] for l in open(sys.argv[1])).items())))
' "$work/cases-rust.jsonl"))"
else
  echo "detector cases: rust and python alerts DIFFER" >&2
  diff "$work/cases-rust.jsonl" "$work/cases-python.jsonl" | head -20 >&2
  exit 1
fi

for n in "$small" "$large"; do
  "$warden" dev gen-cloudtrail --records "$n" --seed 7 --out-dir "$work/logs-$n" 2>/dev/null
  size=$(du -sm "$work/logs-$n" | cut -f1)
  echo "== $n synthetic S3 data events, ${size} MB of CloudTrail log files"
  measure "$n" "$work/logs-$n" 2>>"$work/results"
done
# Export forms: the small set rewritten as an Athena / CloudTrail Lake export would write it
# (eventTime "YYYY-MM-DD HH:MM:SS.000", nested objects as JSON strings), replayed on one core.
python3 - "$work/logs-$small" "$work/export-$small.jsonl" <<'PY'
import glob, gzip, json, os, sys
with open(sys.argv[2], "w") as out:
    for f in sorted(glob.glob(os.path.join(sys.argv[1], "*"))):
        data = open(f, "rb").read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        for r in json.loads(data)["Records"]:
            t = r["eventTime"]
            r["eventTime"] = f"{t[:10]} {t[11:19]}.000"
            for k in ("userIdentity", "requestParameters", "additionalEventData"):
                if isinstance(r.get(k), dict):
                    r[k] = json.dumps(r[k], separators=(",", ":"))
            out.write(json.dumps(r, separators=(",", ":")) + "\n")
PY
t0=$(date +%s.%N)
taskset -c 0 "$warden" audit replay "$work/export-$small.jsonl" --grants "$grants" --jobs 1 >"$work/export-alerts.jsonl" 2>"$work/export-err.txt"
t1=$(date +%s.%N)
python3 -c 'import sys; n, a, b = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print(f"export forms: {n} records parsed in {b - a:.2f} s, {n / (b - a):,.0f} records/s (one core)")' "$small" "$t0" "$t1"
grep "export forms read" "$work/export-err.txt" | sed 's/^/  /'
if cmp -s "$work/export-alerts.jsonl" "$work/alerts-rust-$small.jsonl"; then echo "  export alerts: identical to the original files'"; else echo "  export alerts: DIFFERENT" >&2; exit 1; fi

# Straight from S3, against the local emulator: the small set as gzip log files in CloudTrail's
# key layout, replayed with s3:// (list + fetch 8 ahead + the same pipeline).
endpoint=$(bash scripts/moto.sh start)
trap 'bash scripts/moto.sh stop; rm -rf "$work"' EXIT
.venv/bin/python - "$endpoint" "$work/logs-$small" <<'PY'
import glob, gzip, os, sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket="bench-trail")
for f in sorted(glob.glob(os.path.join(sys.argv[2], "*"))):
    data = open(f, "rb").read()
    if data[:2] != b"\x1f\x8b":
        data = gzip.compress(data, 1)
    s3.put_object(Bucket="bench-trail", Key="AWSLogs/111111111111/CloudTrail/us-east-1/2026/11/23/" + os.path.basename(f) + ".gz", Body=data)
PY
t0=$(date +%s.%N)
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "$warden" audit replay "s3://bench-trail/AWSLogs/111111111111/CloudTrail/us-east-1/" \
  --endpoint-url "$endpoint" --region us-east-1 --grants "$grants" >"$work/s3-alerts.jsonl" 2>/dev/null
t1=$(date +%s.%N)
python3 -c 'import sys; n, a, b = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print(f"s3 replay (emulator): {n} records in {b - a:.2f} s, {n / (b - a):,.0f} records/s")' "$small" "$t0" "$t1"
if cmp -s "$work/s3-alerts.jsonl" "$work/alerts-rust-$small.jsonl"; then echo "  s3 alerts: identical to the local files'"; else echo "  s3 alerts: DIFFERENT" >&2; exit 1; fi
bash scripts/moto.sh stop

python3 - "$work/results" "$work" <<'PY'
import collections, filecmp, glob, json, os, sys
# Same work on both sides: the same alerts, byte for byte (detector, severity, summary, details).
same = True
for rust in sorted(glob.glob(os.path.join(sys.argv[2], "alerts-rust-[0-9]*.jsonl"))):
    py = rust.replace("alerts-rust-", "alerts-python-")
    for par in glob.glob(rust.replace("alerts-rust-", "alerts-rust-j*-")):
        # --jobs N: the same alerts as --jobs 1, byte for byte.
        same_par = filecmp.cmp(rust, par, shallow=False)
        same &= same_par
        print(f"{os.path.basename(par)}: {'identical to --jobs 1' if same_par else 'DIFFERENT from --jobs 1'}")
    r = collections.Counter(json.loads(l)["detector"] for l in open(rust))
    identical = filecmp.cmp(rust, py, shallow=False)
    same &= identical
    print(f"alerts at {os.path.basename(rust)[12:-6]} records: {dict(r)}: {'identical' if identical else 'DIFFERENT'}")
rows = [l.split()[1:] for l in open(sys.argv[1]) if l.startswith("RESULT")]
by = {(r[0], r[1]): (float(r[2]), float(r[3])) for r in rows}
ns = sorted({r[1] for r in rows}, key=int)
par = sorted({r[0] for r in rows if r[0].startswith("rust-j")})
for n in ns:
    print(f"speed-up at {n}: {by[('rust', n)][0] / by[('python', n)][0]:.1f}x")
    print(f"pipeline / bare typed serde parse at {n}: {by[('rust', n)][0] / by[('bare', n)][0]:.2f}x (goal >= 1.0, both on one core)")
    for p in par:
        print(f"{p} / --jobs 1 at {n}: {by[(p, n)][0] / by[('rust', n)][0]:.2f}x (peak RSS {by[(p, n)][1]:.1f} MB)")
print(f"rust peak RSS: {by[('rust', ns[0])][1]:.1f} MB at {ns[0]}, {by[('rust', ns[-1])][1]:.1f} MB at {ns[-1]}")
sys.exit(0 if same else 1)
PY
