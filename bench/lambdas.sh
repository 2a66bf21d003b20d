#!/usr/bin/env bash
# Cold starts of the eight functions (issue 6, "Measured"): binary size, start-to-ready time (Lambda's
# Init Duration), first-invocation time and peak memory, plus the access-logger's records/s for a
# 100-record batch — release builds for this machine, against the local emulator, through a Lambda
# Runtime API played by bench/coldstart.py.
#   bash bench/lambdas.sh [RUNS]        (default 5 runs per function; prints a Markdown table)
# Run `make lambdas` first to have the arm64 zip sizes in the table too; WARDEN_BENCH_NO_BUILD=1
# measures the release binaries already built.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
fns=(access-logger access-request access-validator approval-processor cost-reporter expiration-enforcer governance-check policy-reconciler)

echo "building release binaries (first time: several minutes)" >&2
[ -n "${WARDEN_BENCH_NO_BUILD:-}" ] || cargo build --quiet --release --locked $(printf -- '-p %s ' "${fns[@]}") -p warden-local -p warden-cli
bin="$(bash scripts/target-dir.sh)/release"

work=$(mktemp -d)
trap 'bash scripts/moto.sh stop; rm -rf "$work"' EXIT
endpoint=$(bash scripts/moto.sh start)
"$bin/warden-local" "$endpoint" bootstrap fixtures/grants/consumers-20.json >"$work/local.env"
set -a; . "$work/local.env"; set +a
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export METRICS_NAMESPACE=Warden/bench
export DETECT_CONFIG="{\"shared_bucket\":\"$SHARED_BUCKET\",\"trusted_accounts\":[\"111111111111\"],\"time_zone\":\"UTC\"}"
# The reconciler applies the grants once, so the functions below meet a configured world.
WARDEN_RUN_ONCE=1 RUST_LOG=warn "$bin/policy-reconciler" >/dev/null

"$bin/warden" dev gen-cloudtrail --records 100 --accounts 20 --seed 7 --bucket "$SHARED_BUCKET" >"$work/records.jsonl"
python3 - "$work" <<'PY'
import json, os, sys, uuid
work = sys.argv[1]
api = lambda body, acct="210000000000": {"requestContext": {"requestId": str(uuid.uuid4()), "identity": {
    "accountId": acct, "userArn": f"arn:aws:sts::{acct}:assumed-role/analyst/alice"}}, "body": json.dumps(body)}
records = []
for i, line in enumerate(open(os.path.join(work, "records.jsonl"))):
    detail = json.loads(line)
    envelope = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "AWS API Call via CloudTrail",
                "source": "aws.s3", "account": "111111111111", "time": detail["eventTime"],
                "region": "us-east-1", "resources": [], "detail": detail}
    records.append({"messageId": f"m-{i}", "receiptHandle": f"r-{i}", "body": json.dumps(envelope),
                    "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                    "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:111111111111:events",
                    "awsRegion": "us-east-1"})
events = {
    "validator.json": api({"prefix": "analytics/"}),
    "sqs-100.json": {"Records": records},
    "request.json": api({"prefixes": ["campaigns/2027/"], "access_level": "read",
                         "expiration_date": "2030-01-01T00:00:00Z", "justification": "cold-start benchmark"}),
    "approval.json": api({"task_token": "bench-unknown-token", "decision": "approve"}, "111111111111"),
    "scheduled.json": {"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events",
                       "account": "111111111111", "time": "2026-12-01T00:00:00Z", "region": "us-east-1",
                       "resources": [], "detail": {}},
}
for name, ev in events.items():
    json.dump(ev, open(os.path.join(work, name), "w"))
PY
python3 bench/coldstart.py "$bin" "$work" "$runs"
