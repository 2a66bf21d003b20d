#!/usr/bin/env bash
# The access-logger under injected faults (issue 14), on the local emulator, release build:
#   1. N events (default 100,000) with 30 % DynamoDB throttling and 10 % SNS 5xx (the fault layer,
#      WARDEN_FAULTS syntax), SQS redelivery modelled with the queue's visibility timeout and
#      maxReceiveCount, five instances polling: prints the fault line
#      `faults: N events, X% throttled, lost 0, duplicated 0, repeated alerts 0, dlq 0, T s`
#      (the SDK's retry backoff scaled down 100×, so the figure is Warden's handling, not sleeps);
#   2. the same N without faults (the baseline events/s);
#   3. N_REAL (default 10,000) events with the faults and the SDK's real 1 s backoff (the retry
#      overhead as a deployed function meets it);
#   4. peak memory of the access-logger binary handling one 10,000-record batch.
# usage: bench/faults.sh [N] [N_REAL]      (FAULTS_STEPS=memory runs step 4 alone)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
n_real=${2:-10000}
target=$(bash scripts/target-dir.sh)
work=$(mktemp -d)
endpoint=$(bash scripts/moto.sh start)
trap 'bash scripts/moto.sh stop; rm -rf "$work"' EXIT
export WARDEN_MOTO_ENDPOINT="$endpoint"

cargo build --release --locked -q -p access-logger -p warden-local
run() { # run <events> <plan> <backoff ms> <label>
  echo "== $4" >&2
  WARDEN_FAULT_RUN_EVENTS=$1 WARDEN_FAULT_RUN_PLAN=$2 WARDEN_FAULT_RUN_BACKOFF_MS=$3 \
    cargo test --release --locked -q -p access-logger --test access_logger \
    under_faults_no_record_is_lost_or_doubled_and_no_alert_repeated -- --nocapture 2>&1 \
    | grep -E '^(faults|fault run):' | sed "s/^/[$4] /"
}
plan="dynamodb:throttle=0.3,sns:5xx=0.1,seed=7"
if [ "${FAULTS_STEPS:-all}" != memory ]; then
  run "$n" "$plan" 10 "faults"
  run "$n" none 10 "no faults"
  run "$n_real" "$plan" 1000 "faults, real SDK backoff"
  # A fresh emulator for the memory step: after 210,000 items moto (in-memory Python) answers a
  # 10,000-record batch in over an hour, which measures moto, not the logger.
  bash scripts/moto.sh stop
  endpoint=$(bash scripts/moto.sh start)
  export WARDEN_MOTO_ENDPOINT="$endpoint"
fi

echo "== peak memory, one 10,000-record batch" >&2
"$target/release/warden-local" "$endpoint" bootstrap fixtures/grants/consumers-20.json >"$work/local.env"
set -a; . "$work/local.env"; set +a
python3 - "$work/batch.json" "$SHARED_BUCKET" <<'PY'
import json, sys, datetime
now = datetime.datetime.now(datetime.timezone.utc)
records = []
for i in range(10000):
    t = (now - datetime.timedelta(seconds=i % 3600)).strftime("%Y-%m-%dT%H:%M:%SZ")
    acct = "2100000000%02d" % (i % 20)
    detail = {"eventVersion": "1.09", "eventTime": t, "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
              "eventID": "mem-%06d" % i, "awsRegion": "us-east-1",
              "userIdentity": {"type": "AssumedRole", "accountId": acct, "arn": f"arn:aws:sts::{acct}:assumed-role/warden-consumer/s"},
              "requestParameters": {"bucketName": sys.argv[2], "key": "analytics/part-%d.csv" % i},
              "additionalEventData": {"bytesTransferredOut": 1000}}
    body = json.dumps({"version": "0", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "detail": detail})
    records.append({"messageId": "m%d" % i, "body": body, "attributes": {"ApproximateReceiveCount": "1"}})
json.dump({"Records": records}, open(sys.argv[1], "w"))
PY
# Alerts to a topic of their own without subscribers: the bootstrap's alert topic feeds an SQS
# queue, and moto's SQS recounts a queue on every delivery (quadratic; it measured moto).
ALERT_TOPIC_ARN=$(curl -sf -X POST "$endpoint/" -d "Action=CreateTopic&Name=warden-bench-alerts" \
  -H "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=0" \
  | sed -n 's:.*<TopicArn>\(.*\)</TopicArn>.*:\1:p')
[ -n "$ALERT_TOPIC_ARN" ] || { echo "could not create the bench alert topic" >&2; exit 1; }
AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
  ALERT_TOPIC_ARN="$ALERT_TOPIC_ARN" RUST_LOG=error METRICS_NAMESPACE=Warden/bench WARDEN_EVENT_FILE="$work/batch.json" \
  DETECT_CONFIG="{\"shared_bucket\":\"$SHARED_BUCKET\"}" \
  python3 - "$target/release/access-logger" <<'PY'
import os, subprocess, sys, time, json
t = time.perf_counter()
child = subprocess.Popen([sys.argv[1]], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
out = child.stdout.read()
_, status, usage = os.wait4(child.pid, 0)
dt = time.perf_counter() - t
if status != 0:
    sys.exit(f"access-logger failed with status {status}")
failed = len(json.loads(out.decode().strip().splitlines()[-1])["batchItemFailures"])
print(f"[memory] access-logger, one 10,000-record batch: peak RSS {usage.ru_maxrss / 1024:.1f} MB, {dt:.1f} s, {failed} messages failed")
PY
