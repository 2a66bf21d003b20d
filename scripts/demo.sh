#!/usr/bin/env bash
# The main job: a local end-to-end run of Warden.
# Offline: the policy engine on a 20-consumer registry (render, lint, decisions inside/outside
# prefixes, read vs write, expiry, batch simulation) and CloudTrail replay through the detectors.
# On the local AWS emulator (moto, installed into .venv, stopped at the end), all eight functions
# through the real adapters: reconciler, self-service request → approval workflow → grant,
# credential vending, CloudTrail events → EventBridge → SQS → access-logger → audit table and
# alerts, governance drift, expiry, cost report; then a second deployment of 200 generated consumers,
# half of them on their own S3 Access Point (both tiers applied, decided, one consumer revoked).
set -uo pipefail
cd "$(dirname "$0")/.."

pass=0
fail=0
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ok() { pass=$((pass + 1)); printf '  ok   %s\n' "$*"; }
ko() { fail=$((fail + 1)); printf '  FAIL %s\n' "$*"; }
expect() { # expect <description> <expected-exit> <command...>
  local what=$1 want=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out" | sed 's/^/       /'
  if [ "$rc" -eq "$want" ]; then ok "$what"; else ko "$what (exit $rc, wanted $want)"; fi
}

work=$(mktemp -d)
trap 'bash scripts/moto.sh stop; rm -rf "$work"' EXIT
grants=fixtures/grants/consumers-20.json

step "Build the warden CLI, the nine functions and the local bootstrap tool"
cargo build --quiet --locked -p warden-cli -p policy-reconciler -p expiration-enforcer -p cost-reporter -p access-validator \
  -p governance-check -p access-logger -p access-request -p approval-processor -p audit-replay -p warden-local || { echo "build failed"; exit 1; }
bin="$(bash scripts/target-dir.sh)/debug"
warden="$bin/warden"
ok "built"

step "Render the policies for 20 consumer accounts from the registry ($grants)"
if "$warden" policy render --grants "$grants" --require-mfa --format json >"$work/render.json"; then
  ok "rendered bucket policy, key policy, KMS grants and trust policies"
else
  ko "render failed"
fi
python3 - "$work" <<'PY' && ok "every document is within its AWS size limit" || ko "a document is over its limit"
import json, sys, os
work = sys.argv[1]
r = json.load(open(os.path.join(work, "render.json")))
def show(name, d):
    print(f"       {name}: {d['size']} of {d['budget']} bytes")
    json.dump(d["policy"], open(os.path.join(work, name + ".json"), "w"))
    return d["size"] <= d["budget"]
ok = show("bucket_policy", r["bucket_policy"]) and show("key_policy", r["key_policy"])
for acct, t in r["trust_policies"].items():
    ok = show(f"trust_{acct}", t) and ok
print(f"       {len(r['kms_grants'])} KMS grants, {len(r['trust_policies'])} trust policies")
sys.exit(0 if ok and len(r["kms_grants"]) == 20 and len(r["trust_policies"]) == 20 else 1)
PY

step "Lint what was rendered against spec 002's rules (MFA on trust, no wildcard writes, no public principals)"
expect "rendered policies have no findings" 0 "$warden" policy lint --require-mfa "$work"/bucket_policy.json "$work"/key_policy.json "$work"/trust_*.json
printf '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["iam:Get*","iam:UpdateRole"],"Resource":"*"}}' >"$work/bad-audit.json"
expect "a seeded audit-role policy with write access is caught" 1 "$warden" policy lint --audit-role "$work/bad-audit.json"

step "Ask the rendered policies who may do what (warden access check)"
expect "analytics reads inside its prefix: allowed" 0 "$warden" access check --grants "$grants" --account 210000000000 --action s3:GetObject --key analytics/2026/sales.csv --at 2026-11-22T10:00:00Z
expect "analytics reads finance's prefix: denied" 3 "$warden" access check --grants "$grants" --account 210000000000 --action s3:GetObject --key finance/ledger.csv --at 2026-11-22T10:00:00Z
expect "analytics writes into its read-only prefix: denied" 3 "$warden" access check --grants "$grants" --account 210000000000 --action s3:PutObject --key analytics/x.csv --at 2026-11-22T10:00:00Z
expect "data-science writes into its read-write prefix: allowed" 0 "$warden" access check --grants "$grants" --account 210000007007 --action s3:PutObject --key data-science/model.bin --at 2026-11-22T10:00:00Z
expect "analytics lists its prefix: allowed" 0 "$warden" access check --grants "$grants" --account 210000000000 --action s3:ListBucket --key analytics/ --at 2026-11-22T10:00:00Z
expect "an unknown account: denied" 3 "$warden" access check --grants "$grants" --account 999988887777 --action s3:GetObject --key analytics/x.csv --at 2026-11-22T10:00:00Z
expect "partners after their grant expired (2026-12-31): denied" 3 "$warden" access check --grants "$grants" --account 210000019019 --action s3:GetObject --key partners/feed.csv --at 2027-01-02T00:00:00Z
# The KMS layer: the same read against a key whose policy names no consumer and which has no grants
# (what a consumer meets before the reconciler has run): S3 allows, kms:Decrypt does not.
python3 -c 'import json; print(json.dumps({"Version": "2012-10-17", "Statement": [json.load(open("'"$work"'/key_policy.json"))["Statement"][0]]}))' >"$work/key-admin-only.json"
printf '{"Grants": [], "Truncated": false}' >"$work/no-grants.json"
expect "analytics reads with the KMS grant missing: denied at kms:Decrypt, with the fix" 3 "$warden" access check --grants "$grants" --account 210000000000 --action s3:GetObject --key analytics/2026/sales.csv --at 2026-11-22T10:00:00Z --key-policy "$work/key-admin-only.json" --kms-grants "$work/no-grants.json"

step "Simulate raw requests in batch (warden policy simulate --batch)"
python3 - "$work" <<'PY'
import json, sys, os
work = sys.argv[1]
bucket = json.load(open(os.path.join(work, "bucket_policy.json")))
ident = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}
base = {"action": "s3:GetObject", "resource": "arn:aws:s3:::warden-shared-data-111111111111/analytics/a.csv",
        "resource_account": "111111111111", "identity_policies": [ident], "resource_policy": bucket,
        "context": {"aws:SecureTransport": "true", "aws:CurrentTime": "2026-11-22T10:00:00Z"}}
reqs = [
    dict(base, principal="arn:aws:sts::210000000000:assumed-role/warden-consumer/s1"),
    dict(base, principal="arn:aws:sts::210000000000:assumed-role/warden-consumer/s1",
         context={"aws:SecureTransport": "false", "aws:CurrentTime": "2026-11-22T10:00:00Z"}),
    dict(base, principal="arn:aws:sts::210000000000:assumed-role/other-role/s1"),
    {"principal": "arn:aws:sts::210000000000:assumed-role/warden-consumer/s1", "action": "s3:GetObject"},
]
with open(os.path.join(work, "requests.jsonl"), "w") as f:
    for r in reqs:
        f.write(json.dumps(r) + "\n")
PY
"$warden" policy simulate --batch "$work/requests.jsonl" >"$work/results.jsonl"
python3 - "$work/results.jsonl" <<'PY' && ok "batch: allowed over TLS, explicitly denied without TLS, other role denied, bad request named" || ko "batch results unexpected"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
for r in rs: print("       " + json.dumps(r)[:160])
sys.exit(0 if [r.get("decision") for r in rs[:3]] == ["Allowed", "ExplicitlyDenied", "ImplicitlyDenied"]
         and rs[3].get("error", "").startswith("resource: is required") else 1)
PY

step "Replay CloudTrail logs through the live detectors (warden audit replay)"
"$warden" audit replay fixtures/cloudtrail/log-file.json.gz --grants "$grants" --config fixtures/cloudtrail/detect-config.json \
  --records-out "$work/access-records.jsonl" >"$work/alerts.jsonl" 2>"$work/replay-summary.txt"
rc=$?
sed 's/^/       /' "$work/replay-summary.txt" | tail -4
if [ "$rc" -eq 0 ]; then ok "replay read every record"; else ko "replay exit $rc"; fi
for d in unknown-account off-hours large-transfer prefix-outside-grant policy-change key-loss audit-tampering root-activity; do
  n=$(grep -c "\"detector\":\"$d\"" "$work/alerts.jsonl")
  if [ "$n" -ge 1 ]; then ok "alert raised: $d ($n)"; else ko "no $d alert"; fi
done
n=$(wc -l <"$work/access-records.jsonl")
if [ "$n" -eq 20 ]; then ok "20 normalised access records written"; else ko "$n access records"; fi

step "Local AWS (moto on 127.0.0.1): create what Terraform creates, through the same adapters"
endpoint=$(bash scripts/moto.sh start) || { ko "moto did not start"; endpoint=""; }
trap 'bash scripts/moto.sh stop; rm -rf "$work"' EXIT
if [ -n "$endpoint" ]; then
  ok "emulator at $endpoint"
  # The same 20 consumers, plus one whose grant expired an hour ago (for the expiry step).
  python3 - "$grants" "$work/grants-local.json" <<'PY'
import json, sys, datetime
d = json.load(open(sys.argv[1]))
past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
d["consumer_accounts"].append({"account_id": "210000099099", "name": "expired-partner", "allowed_prefixes": ["expired-partner/"],
                               "access_level": "read", "expiration_date": past})
json.dump(d, open(sys.argv[2], "w"))
PY
  if "$bin/warden-local" "$endpoint" bootstrap "$work/grants-local.json" >"$work/local.env" 2>"$work/bootstrap.log"; then
    ok "registry with 21 grants (one expired an hour ago), access-log table, shared bucket, data key, baseline parameter, topics"
  else
    ko "bootstrap: $(cat "$work/bootstrap.log")"
  fi
  set -a; . "$work/local.env"; set +a
  export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 WARDEN_RUN_ONCE=1 RUST_LOG=warn

  step "The policy-reconciler renders the registry and applies the bucket policy and KMS grants"
  report=$("$bin/policy-reconciler" | tail -1)
  echo "       $report"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["policy_applied"] and r["kms_grants_created"] == 20 else 1)' "$report" \
    && ok "policy applied ($(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["policy_size"])' "$report") bytes) and 20 KMS grants created: the expired grant is left out" || ko "first reconciliation"
  report=$("$bin/policy-reconciler" | tail -1)
  echo "       $report"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if not r["policy_applied"] and r["kms_grants_created"] == 0 and r["kms_grants_revoked"] == 0 else 1)' "$report" \
    && ok "second run changes nothing (idempotent)" || ko "second reconciliation was not a no-op"

  step "Self-service: a consumer asks for more data, an approver says yes, the grant goes live"
  local_api_event() { # local_api_event <file> <account> <user-arn> <request-id> <body>
    python3 -c 'import json,sys; f, acct, user, rid, body = sys.argv[1:]
json.dump({"requestContext": {"requestId": rid, "identity": {"accountId": acct, "userArn": user}}, "body": body}, open(f, "w"))' "$@"
  }
  until=$(python3 -c 'import datetime; print((datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
  local_api_event "$work/request.json" 210000000000 arn:aws:sts::210000000000:assumed-role/analyst/alice "demo-$$" \
    "{\"prefixes\":[\"campaigns/2026/\"],\"access_level\":\"read\",\"expiration_date\":\"$until\",\"justification\":\"Q4 attribution study needs the 2026 campaign exports\"}"
  r=$(WARDEN_EVENT_FILE="$work/request.json" "$bin/access-request" | tail -1); echo "       $r"
  request_id=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(json.loads(r["body"]).get("request_id", "") if r["statusCode"] == 202 else "")' "$r")
  [ -n "$request_id" ] && ok "analytics asks for read on campaigns/2026/ until $until: recorded as pending, workflow started" || ko "access request"
  local_api_event "$work/bad-request.json" 210000000000 arn:aws:sts::210000000000:assumed-role/analyst/alice "demo-bad-$$" \
    '{"prefixes":["campaigns"],"access_level":"admin","expiration_date":"2030-01-01T00:00:00Z","justification":"because I want it all"}'
  r=$(WARDEN_EVENT_FILE="$work/bad-request.json" "$bin/access-request" | tail -1); echo "       $r"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["statusCode"] == 400 and "access_level: must be" in r["body"] else 1)' "$r" \
    && ok "a malformed request is refused with the field and the rule" || ko "bad request not refused by name"
  local_api_event "$work/forever-request.json" 210000000000 arn:aws:sts::210000000000:assumed-role/analyst/alice "demo-forever-$$" \
    '{"prefixes":["campaigns/2027/"],"access_level":"read","expiration_date":"9999-12-31T00:00:00Z","justification":"we will need this for ever"}'
  r=$(WARDEN_EVENT_FILE="$work/forever-request.json" "$bin/access-request" | tail -1); echo "       $r"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["statusCode"] == 400 and "expiration_date: must be at most max_grant_days (365)" in r["body"] else 1)' "$r" \
    && ok "an expiry beyond max_grant_days (9999-12-31) is refused, naming the field and the rule" || ko "unbounded expiry accepted"
  sleep 1
  "$bin/warden-local" "$endpoint" inbox "$APPROVER_INBOX_URL" >"$work/approver-mail.jsonl"
  token=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][0]["message"].rsplit("task token: ", 1)[1])' "$work/approver-mail.jsonl" 2>/dev/null)
  python3 -c 'import json,sys; m=json.loads(open(sys.argv[1]).readline()); print("       approver mail: " + m["subject"] + " — " + m["message"].split(" Approve")[0])' "$work/approver-mail.jsonl" 2>/dev/null
  [ -n "$token" ] && ok "the approvers were notified with a task token; the workflow waits (.waitForTaskToken)" || ko "no approval notice"
  python3 -c 'import json,sys; m=json.loads(open(sys.argv[1]).readline())["message"]; sys.exit(0 if sys.argv[2] in m and "Justification: Q4 attribution study" in m else 1)' "$work/approver-mail.jsonl" "until $until" \
    && ok "the notice shows what is approved: prefixes, level, expiry, requester and justification" || ko "the notice lacks the expiry or the justification"
  # Only approver_principal_arns may decide (Terraform: approver_principal_arns; the API's resource
  # policy admits only them for POST /approvals, and the function checks again).
  approvers='["arn:aws:iam::111111111111:role/data-owner"]'
  local_api_event "$work/self-approve.json" 210000000000 arn:aws:sts::210000000000:assumed-role/analyst/alice2 "demo-self-$$" \
    "{\"task_token\":\"$token\",\"decision\":\"approve\"}"
  r=$(APPROVER_PRINCIPAL_ARNS="$approvers" WARDEN_EVENT_FILE="$work/self-approve.json" "$bin/approval-processor" | tail -1); echo "       $r"
  python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["statusCode"] == 403 else 1)' "$r" \
    && ok "alice, holding the token under another session name, cannot approve: not an approver" || ko "a non-approver's decision was accepted"
  local_api_event "$work/approve.json" 111111111111 arn:aws:sts::111111111111:assumed-role/data-owner/bob "demo-ap-$$" \
    "{\"task_token\":\"$token\",\"decision\":\"approve\",\"comment\":\"ok for Q4\"}"
  r=$(APPROVER_PRINCIPAL_ARNS="$approvers" WARDEN_EVENT_FILE="$work/approve.json" "$bin/approval-processor" | tail -1); echo "       $r"
  python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["statusCode"] == 200 else 1)' "$r" && ok "bob approves through POST /approvals (SendTaskSuccess)" || ko "approval"
  execution="${STATE_MACHINE_ARN/:stateMachine:/:execution:}:$request_id"
  "$bin/warden-local" "$endpoint" await-execution "$execution" >"$work/execution.json"
  python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print("       workflow " + e["status"] + ", next task: " + e["output"].get("action", "?")); sys.exit(0 if e["status"] == "SUCCEEDED" and e["output"]["action"] == "apply" else 1)' "$work/execution.json" \
    && ok "the workflow resumed and asks for the grant to be applied" || ko "workflow did not complete"
  python3 -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["output"], open(sys.argv[2], "w"))' "$work/execution.json" "$work/apply.json"
  # A direct invoke with a forged task (no execution context, wider prefixes) before the real one.
  python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); t.pop("execution"); t["request"]["prefix_list"]=["finance/"]; json.dump(t, open(sys.argv[2], "w"))' "$work/apply.json" "$work/forged-apply.json"
  r=$(APPROVER_PRINCIPAL_ARNS="$approvers" WARDEN_EVENT_FILE="$work/forged-apply.json" "$bin/approval-processor" | tail -1); echo "       $r"
  python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["state"] == "refused" else 1)' "$r" \
    && ok "a forged workflow task (direct invoke, no execution context) is refused; the request stays pending" || ko "a forged task was applied"
  r=$(APPROVER_PRINCIPAL_ARNS="$approvers" WARDEN_EVENT_FILE="$work/apply.json" "$bin/approval-processor" | tail -1); echo "       $r"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["state"] == "active" and r["allowed_prefixes"] == ["campaigns/2026/"] else 1)' "$r" && ok "approval-processor activates the stored request (after the execution, four-eyes, expiry-cap and overlap checks)" || ko "grant not activated"
  report=$("$bin/policy-reconciler" | tail -1); echo "       $report"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["policy_applied"] else 1)' "$report" \
    && ok "the reconciler (triggered by the registry stream on AWS) puts campaigns/2026/ into the bucket policy" || ko "new grant not applied"

  step "A consumer asks the access-validator for credentials (through the API's verified identity)"
  api_event() { # api_event <account or ""> <body>
    python3 -c 'import json,sys; acct, body = sys.argv[1], sys.argv[2]
ident = {"userArn": "arn:aws:sts::210000000000:assumed-role/analyst/alice"}
if acct: ident["accountId"] = acct
print(json.dumps({"requestContext": {"requestId": "demo-" + str(abs(hash(body + acct)) % 10**8), "identity": ident}, "body": body}))' "$1" "$2" >"$work/event.json"
    WARDEN_EVENT_FILE="$work/event.json" "$bin/access-validator" | tail -1
  }
  r=$(api_event 210000000000 '{"prefix":"analytics/2026/"}'); echo "       ${r:0:150}…"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); b=json.loads(r["body"]); sys.exit(0 if r["statusCode"] == 200 and b["credentials"]["access_key_id"] and b["prefix"] == "analytics/2026/" else 1)' "$r" \
    && ok "analytics gets 1-hour credentials scoped to analytics/2026/ (session policy + tags), decision audited" || ko "vending: $r"
  r=$(api_event 210000000000 '{"prefix":"campaigns/2026/"}'); echo "       ${r:0:150}…"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["statusCode"] == 200 else 1)' "$r" \
    && ok "the newly approved campaigns/2026/ is vended too" || ko "approved prefix not vended: $r"
  r=$(api_event 210000000000 '{"prefix":"finance/"}'); echo "       $r"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["statusCode"] == 403 else 1)' "$r" && ok "finance/ is refused: outside the grant" || ko "outside-prefix request was not refused"
  r=$(api_event "" '{"prefix":"analytics/"}'); echo "       $r"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["statusCode"] == 403 else 1)' "$r" && ok "a request without a verified identity is refused" || ko "unverified request was not refused"

  step "Decide requests against the policy that is live on the emulator (warden-core's evaluator)"
  "$bin/warden-local" "$endpoint" bucket-policy "$SHARED_BUCKET" >"$work/live-policy.json"
  python3 - "$work" "$SHARED_BUCKET" <<'PY'
import json, sys, os
work, bucket = sys.argv[1], sys.argv[2]
live = json.load(open(os.path.join(work, "live-policy.json")))
ident = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}
def req(acct, key):
    return {"principal": f"arn:aws:sts::{acct}:assumed-role/warden-consumer/s", "action": "s3:GetObject",
            "resource": f"arn:aws:s3:::{bucket}/{key}", "resource_account": "123456789012",
            "identity_policies": [ident], "resource_policy": live,
            "context": {"aws:SecureTransport": "true", "aws:CurrentTime": "2026-11-23T10:00:00Z"}}
with open(os.path.join(work, "live-requests.jsonl"), "w") as f:
    for acct, key in [("210000000000", "analytics/a.csv"), ("210000000000", "finance/ledger.csv"), ("999988887777", "analytics/a.csv")]:
        f.write(json.dumps(req(acct, key)) + "\n")
PY
  "$warden" policy simulate --batch "$work/live-requests.jsonl" >"$work/live-results.jsonl"
  python3 - "$work/live-results.jsonl" <<'PY' && ok "analytics reads analytics/ (allowed), not finance/ (denied); an unknown account is denied" || ko "decisions on the live policy"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
for r in rs: print("       " + json.dumps(r)[:150])
sys.exit(0 if [r.get("decision") for r in rs] == ["Allowed", "ImplicitlyDenied", "ImplicitlyDenied"] else 1)
PY
  step "CloudTrail → EventBridge → SQS → access-logger → audit table, with alerts"
  python3 - "$work/trail.jsonl" "$SHARED_BUCKET" <<'PY'
import json, sys, datetime
out, bucket = sys.argv[1], sys.argv[2]
now = datetime.datetime.now(datetime.timezone.utc)
# A weekday at 10:00 UTC (business hours) and a Sunday at 03:00 UTC, both within the TTL window.
monday = (now - datetime.timedelta(days=now.weekday() + 7)).replace(hour=10, minute=0, second=0, microsecond=0)
sunday_night = monday - datetime.timedelta(days=1) - datetime.timedelta(hours=7)
def rec(i, acct, key, when, out_bytes=2048, name="GetObject", role="warden-consumer"):
    return {"eventVersion": "1.09", "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": "s3.amazonaws.com",
            "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.%d" % (10 + i),
            "userAgent": "[aws-cli/2.17.0]", "eventID": "demo-event-%04d" % i, "eventType": "AwsApiCall",
            "readOnly": name.startswith("Get"), "managementEvent": False, "recipientAccountId": "111111111111",
            "userIdentity": {"type": "AssumedRole", "accountId": acct, "principalId": "AROAEXAMPLE:alice",
                             "arn": f"arn:aws:sts::{acct}:assumed-role/{role}/alice"},
            "requestParameters": {"bucketName": bucket, "key": key},
            "additionalEventData": {"bytesTransferredOut": out_bytes},
            "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"}]}
recs = [rec(i, "210000000000", f"analytics/2026/part-{i}.csv", monday + datetime.timedelta(minutes=i)) for i in range(8)]
recs.append(rec(8, "999988887777", "analytics/2026/part-1.csv", monday))                      # not in the registry
recs.append(rec(9, "210000000000", "analytics/2026/part-2.csv", sunday_night))                # off hours
recs.append(rec(10, "210000000000", "analytics/2026/full-export.parquet", monday, 5 << 30))  # 5 GiB in one request
with open(out, "w") as f:
    for r in recs:
        f.write(json.dumps(r) + "\n")
PY
  n=$("$bin/warden-local" "$endpoint" put-events "$work/trail.jsonl")
  [ "$n" = 11 ] && ok "11 S3 data events put on the event bus as CloudTrail delivers them" || ko "put-events: $n"
  export METRICS_NAMESPACE=Warden/local
  export DETECT_CONFIG="{\"shared_bucket\":\"$SHARED_BUCKET\",\"trusted_accounts\":[\"111111111111\"],\"time_zone\":\"UTC\"}"
  sleep 1
  r=$("$bin/warden-local" "$endpoint" deliver "$EVENTS_QUEUE_URL" "$bin/access-logger" 2>"$work/logger.log" | tail -1); echo "       event source mapping: $r"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["acknowledged"] == 11 and r["retried"] == 0 else 1)' "$r" \
    && ok "the rule routed all 11 to the queue; the access-logger acknowledged every message" || ko "delivery: $r $(tail -3 "$work/logger.log")"
  u=$("$bin/warden-local" "$endpoint" usage "$AUDIT_TABLE" 210000000000); echo "       $u"
  python3 -c 'import json,sys; u=json.loads(sys.argv[1]); sys.exit(0 if u["s3_requests"] == 10 else 1)' "$u" \
    && ok "the audit table answers 'what did 210000000000 do' through the by-account-time index: 10 requests" || ko "audit records: $u"
  "$bin/warden-local" "$endpoint" put-events "$work/trail.jsonl" >/dev/null; sleep 1
  "$bin/warden-local" "$endpoint" deliver "$EVENTS_QUEUE_URL" "$bin/access-logger" >/dev/null 2>>"$work/logger.log"
  u2=$("$bin/warden-local" "$endpoint" usage "$AUDIT_TABLE" 210000000000)
  python3 -c 'import json,sys; sys.exit(0 if json.loads(sys.argv[1])["s3_requests"] == 10 else 1)' "$u2" && ok "the same 11 events delivered again: still 10 records (idempotent on eventID)" || ko "redelivery changed the table: $u2"
  step "Day-2 questions with the warden CLI: who did what (warden audit query), what is granted (warden grants list)"
  "$warden" audit query --table "$AUDIT_TABLE" --account 210000000000 --since 2026-11-01T00:00:00Z \
    --endpoint-url "$endpoint" --region us-east-1 >"$work/query.txt" 2>&1
  sed -n '1,4p;$p' "$work/query.txt" | sed 's/^/       /'
  "$warden" audit query --table "$AUDIT_TABLE" --account 210000000000 --since 2026-11-01T00:00:00Z \
    --endpoint-url "$endpoint" --region us-east-1 --format json >"$work/query.json" 2>&1
  python3 -c 'import json,sys; rs=json.load(open(sys.argv[1])); s3=[r for r in rs if r["action"].startswith("s3:")]; print(f"       {len(rs)} records, {len(s3)} of them S3 requests"); sys.exit(0 if len(s3) == 10 else 1)' "$work/query.json" \
    && ok "audit query through by-account-time: every record of 210000000000, its 10 S3 requests among them (as the cost usage counts)" || ko "audit query: $(tail -1 "$work/query.txt")"
  "$warden" grants list --table "$REGISTRY_TABLE" --state expired --endpoint-url "$endpoint" --region us-east-1 >"$work/grants-list.txt" 2>&1
  sed 's/^/       /' "$work/grants-list.txt"
  grep -q "210000099099 .*expired" "$work/grants-list.txt" && ok "grants list --state expired: the lapsed partner, past its date and not revoked yet" || ko "grants list: $(cat "$work/grants-list.txt")"
  "$bin/warden-local" "$endpoint" inbox "$SECURITY_INBOX_URL" >"$work/security-mail.jsonl"
  python3 -c 'import json,sys
subjects = [json.loads(l)["subject"] for l in open(sys.argv[1])]
for s in sorted(set(subjects)): print("       alert mail: " + s[:150])' "$work/security-mail.jsonl"
  for d in unknown-account off-hours large-transfer; do
    if grep -q "warden $d" "$work/security-mail.jsonl"; then ok "alert delivered to the security topic: $d"; else ko "no $d alert"; fi
  done
  step "warden doctor: the troubleshooting section as checks, on a healthy consumer and on a lapsed one"
  trail_arn=$("$bin/warden-local" "$endpoint" trail warden-local-trail "$AUDIT_BUCKET" 2>>"$work/bootstrap.log")
  python3 - "$work/outputs.json" <<PY
import json, sys
o = {"shared_bucket_name": "$SHARED_BUCKET", "kms_key_arn": "$KMS_KEY_ARN", "access_control_table_name": "$REGISTRY_TABLE",
     "consumer_directory_parameter": "$CONSUMER_ROLES_PARAMETER", "cloudtrail_arn": "$trail_arn", "alerts_topic_arn": "$ALERT_TOPIC_ARN"}
json.dump({k: {"value": v, "type": "string", "sensitive": False} for k, v in o.items()}, open(sys.argv[1], "w"))
PY
  echo "       (outputs as terraform output -json writes them: $work/outputs.json)"
  expect "doctor --account 210000000000: every check ok" 0 "$warden" doctor --outputs "$work/outputs.json" --account 210000000000 --endpoint-url "$endpoint" --region us-east-1
  "$warden" doctor --outputs "$work/outputs.json" --account 210000099099 --endpoint-url "$endpoint" --region us-east-1 >"$work/doctor-broken.txt" 2>&1
  rc=$?
  sed 's/^/       /' "$work/doctor-broken.txt"
  if [ "$rc" -eq 1 ] && grep -q "^problem  grant" "$work/doctor-broken.txt"; then
    ok "doctor --account 210000099099 (grant expired an hour ago): exit 1, the grant check is the problem, with its fix"
  else
    ko "doctor on the lapsed consumer: exit $rc"
  fi

  step "Governance: planted drift is found; the reconciler repairs the bucket policy"
  report=$("$bin/governance-check" | tail -1); echo "       $report"
  lapsed='[["consumer-role", "210000099099"]]'
  findings() { python3 -c 'import json,sys; print(json.dumps(sorted([d["kind"], d["account_id"]] for d in json.loads(sys.argv[1])["drift"])))' "$1"; }
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["roles_checked"] == 21 else 1)' "$report" && [ "$(findings "$report")" = "$lapsed" ] \
    && ok "bucket policy, KMS grants and 21 consumer roles (read through each account's governance role) checked; the one finding: the lapsed partner's role still names expired-partner/ (destroy consumer-role/ there)" || ko "unexpected drift"
  python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
p = json.load(open(os.path.join(work, "live-policy.json")))
for st in p["Statement"]:
    if st.get("Sid", "").endswith("Objects"):
        st["Resource"] = [r.rsplit("/", 2)[0] + "/*" if r.count("/") > 1 else r for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])]
        break
json.dump(p, open(os.path.join(work, "widened.json"), "w"))
PY
  "$bin/warden-local" "$endpoint" put-bucket-policy "$SHARED_BUCKET" "$work/widened.json" 2>/dev/null
  "$bin/warden-local" "$endpoint" widen-consumer-role 210000000000 "$SHARED_BUCKET" finance/ 2>/dev/null
  report=$("$bin/governance-check" | tail -1)
  python3 -c 'import json,sys
for d in json.loads(sys.argv[1])["drift"]: print("       drift: [%s] %s" % (d["kind"], d["detail"][:140]))' "$report"
  [ "$(findings "$report")" = '[["bucket-policy", null], ["consumer-role", "210000000000"], ["consumer-role", "210000099099"]]' ] \
    && ok "a hand-widened bucket policy and a consumer role reaching finance/ are both reported (SNS + Drift metric)" || ko "planted drift not found"
  "$bin/warden-local" "$endpoint" restore-consumer-role 210000000000
  "$bin/policy-reconciler" >/dev/null
  report=$("$bin/governance-check" | tail -1)
  [ "$(findings "$report")" = "$lapsed" ] && ok "after the policy-reconciler runs (and consumer-role/ is re-applied), everything is back in step" || ko "drift remains: $report"

  step "The expiration-enforcer revokes the expired grant (once), logs it and notifies its owner"
  report=$("$bin/expiration-enforcer" | tail -1)
  echo "       $report"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["revoked"] == ["210000099099/declared"] and not r["errors"] else 1)' "$report" \
    && ok "grant 210000099099/declared revoked, revocation logged, owner notified" || ko "expiry run"
  report=$("$bin/expiration-enforcer" | tail -1)
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["expired"] == 0 and r["revoked"] == [] else 1)' "$report" \
    && ok "a second run finds nothing to revoke (no double notice)" || ko "second expiry run: $report"
  step "The cost-reporter writes last month's per-account report to the audit bucket and summarises it"
  report=$("$bin/cost-reporter" | tail -1)
  echo "       ${report:0:160}…"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if len(r["lines"]) == 21 and "month" in r else 1)' "$report" \
    && ok "cost report for $(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["month"])' "$report"): 21 accounts priced, JSON and CSV written, summary published" || ko "cost report"

  step "1,000-consumer design at 200: half the consumers past the threshold on their own S3 Access Point"
  # A second deployment on the emulator: 200 generated consumers with two prefixes each. The first
  # 100 share five team namespaces (their statements pack: 14 KB of bucket policy); the other 100
  # each have their own and, past ACCESS_POINT_THRESHOLD=100, get an access point each.
  python3 - "$work/grants-200.json" <<'PY'
import json, sys
cs = []
for i in range(200):
    ps = [f"team-{i % 5}/inbound/", f"team-{i % 5}/shared/"] if i < 100 else [f"consumer-{i}/inbound/", f"consumer-{i}/shared/"]
    cs.append({"account_id": f"{230000000000 + i}", "name": f"consumer-{i}", "allowed_prefixes": ps,
               "access_level": "read", "expiration_date": "2030-01-01T00:00:00Z"})
json.dump({"consumer_accounts": cs}, open(sys.argv[1], "w"))
PY
  if "$bin/warden-local" "$endpoint" bootstrap "$work/grants-200.json" warden-ap >"$work/ap-local.env" 2>"$work/bootstrap-200.log"; then
    # The functions of that deployment: its settings, with the threshold at 100 consumers.
    ap_run() { ( set -a; . "$work/ap-local.env"; ACCESS_POINT_THRESHOLD=100; set +a; "$bin/policy-reconciler" | tail -1 ); }
    ap_var() { ( . "$work/ap-local.env"; eval "printf '%s' \"\$$1\"" ); }
    ap_table=$(ap_var REGISTRY_TABLE); ap_bucket=$(ap_var SHARED_BUCKET); ap_prefix=$(ap_var ACCESS_POINT_PREFIX)
    r1=$(ap_run); r2=$(ap_run)
    echo "       first run: $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print({k: r[k] for k in ("grants_applied","policy_size","access_point_consumers","access_points_created","access_point_policies_written","kms_grants_created","partial")})' "$r1")"
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if (r["grants_applied"], r["access_point_consumers"], r["access_points_created"], r["access_point_policies_written"], r["kms_grants_created"], r["partial"]) == (100, 100, 100, 100, 200, False) else 1)' "$r1" \
      && ok "100 consumers in the bucket policy (delegating to Warden's access points), 100 access points created with their policies, 200 KMS grants" || ko "first reconciliation of 200 consumers: $r1"
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if (r["policy_applied"], r["access_points_created"], r["access_point_policies_written"], r["kms_grants_created"], r["kms_grants_revoked"]) == (False, 0, 0, 0, 0) else 1)' "$r2" \
      && ok "second run writes nothing (idempotent on both tiers)" || ko "second reconciliation: $r2"
    "$bin/warden-local" "$endpoint" bucket-policy "$ap_bucket" >"$work/ap-bucket.json"
    "$bin/warden-local" "$endpoint" access-point-policy 123456789012 "$ap_prefix-230000000150" >"$work/ap-150.json"
    # Decide with the evaluator on the applied documents. Through an access point S3 requires both
    # the access point policy (on the access point's ARN) and the bucket policy (on the bucket's,
    # with s3:DataAccessPointArn set) to allow.
    python3 - "$work" "$ap_bucket" "$ap_prefix" <<'PY'
import json, sys, os
work, bucket, prefix = sys.argv[1:4]
bp = json.load(open(os.path.join(work, "ap-bucket.json")))
ap = json.load(open(os.path.join(work, "ap-150.json")))
ident = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}
ap_arn = f"arn:aws:s3:us-east-1:123456789012:accesspoint/{prefix}-230000000150"
ctx = {"aws:SecureTransport": "true", "aws:CurrentTime": "2026-11-23T10:00:00Z"}
via = dict(ctx, **{"s3:DataAccessPointAccount": "123456789012", "s3:DataAccessPointArn": ap_arn, "s3:AccessPointNetworkOrigin": "Internet"})
def req(acct, resource, policy, context):
    return {"principal": f"arn:aws:sts::{acct}:assumed-role/warden-consumer/s", "action": "s3:GetObject",
            "resource": resource, "resource_account": "123456789012", "identity_policies": [ident],
            "resource_policy": policy, "context": context}
rows = [
    # bucket tier: consumer 7 (team-2) inside and outside its prefixes
    req("230000000007", f"arn:aws:s3:::{bucket}/team-2/shared/a.csv", bp, ctx),
    req("230000000007", f"arn:aws:s3:::{bucket}/team-3/shared/a.csv", bp, ctx),
    # access-point tier: consumer 150 through its access point, inside then outside
    req("230000000150", f"{ap_arn}/object/consumer-150/shared/a.csv", ap, via),
    req("230000000150", f"arn:aws:s3:::{bucket}/consumer-150/shared/a.csv", bp, via),
    req("230000000150", f"{ap_arn}/object/consumer-151/shared/a.csv", ap, via),
    # ... and straight to the bucket, not through its access point: the bucket policy does not name it
    req("230000000150", f"arn:aws:s3:::{bucket}/consumer-150/shared/a.csv", bp, ctx),
]
with open(os.path.join(work, "ap-requests.jsonl"), "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
PY
    "$warden" policy simulate --batch "$work/ap-requests.jsonl" >"$work/ap-results.jsonl"
    python3 - "$work/ap-results.jsonl" <<'PY' && ok "bucket tier: team-2/ allowed, team-3/ denied; access-point tier: its prefix allowed through its access point (both documents allow), another consumer's prefix denied, and the bucket straight is denied" || ko "decisions on the applied documents of both tiers"
import json, sys
d = [json.loads(l).get("decision") for l in open(sys.argv[1])]
print("       " + ", ".join(d))
want = ["Allowed", "ImplicitlyDenied", "Allowed", "Allowed", "ImplicitlyDenied", "ImplicitlyDenied"]
sys.exit(0 if d == want else 1)
PY
    "$bin/warden-local" "$endpoint" revoke-declared "$ap_table" 230000000150 2>/dev/null
    r3=$(ap_run)
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if (r["access_point_policies_removed"], r["access_point_policies_written"], r["kms_grants_revoked"], r["policy_applied"]) == (1, 0, 1, False) else 1)' "$r3" \
      && ! "$bin/warden-local" "$endpoint" access-point-policy 123456789012 "$ap_prefix-230000000150" >/dev/null 2>&1 \
      && ok "consumer 230000000150 revoked: its access point policy removed and its KMS grant revoked; the bucket policy and the other 99 access points untouched" || ko "revocation on the access-point tier: $r3"
  else
    ko "bootstrap of 200 consumers: $(cat "$work/bootstrap-200.log")"
  fi
  step "Replay an archive past one machine: the Distributed Map's plan and children (audit-replay), run here one by one"
  # Three days of CloudTrail in its key layout (gzip, one file per 5 minutes) in a trail bucket.
  "$warden" dev gen-cloudtrail --records 30000 --seed 11 --start 2026-11-21T20:00:00Z --per-file 30000 --out-dir "$work/archive-src" >/dev/null 2>&1
  if .venv/bin/python - "$endpoint" "$work/archive-src" <<'PY'
import collections, datetime, glob, gzip, json, os, sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
s3.create_bucket(Bucket="demo-trail")
slots = collections.defaultdict(list)
for f in sorted(glob.glob(os.path.join(sys.argv[2], "*"))):
    data = open(f, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    for r in json.loads(data)["Records"]:
        # The generator writes 5 records a second: spread them 30 times wider, over two days.
        t0 = datetime.datetime(2026, 11, 21, 20, 0)
        t = t0 + (datetime.datetime.strptime(r["eventTime"][:19], "%Y-%m-%dT%H:%M:%S") - t0) * 30
        r["eventTime"] = f"{t:%Y-%m-%dT%H:%M:%S}Z"
        slots[t.replace(minute=t.minute - t.minute % 5)].append(r)
folder = "cloudtrail/AWSLogs/111111111111/CloudTrail/us-east-1/"
for start, rs in sorted(slots.items()):
    end = start + datetime.timedelta(minutes=5)
    key = f"{folder}{start:%Y/%m/%d}/111111111111_CloudTrail_us-east-1_{end:%Y%m%dT%H%MZ}_demo.json.gz"
    s3.put_object(Bucket="demo-trail", Key=key, Body=gzip.compress(json.dumps({"Records": rs}).encode(), 1))
days = sorted({k.date() for k in slots})
print(f"       {len(slots)} log files over {days[0]} .. {days[-1]}", file=sys.stderr)
PY
  then
    replay_env=(TRAIL_BUCKET=demo-trail TRAIL_PREFIX=cloudtrail/ RESULTS_BUCKET=demo-trail RESULTS_PREFIX=replay/ DETECT_CONFIG="$(cat fixtures/cloudtrail/detect-config.json)")
    echo '{"action": "plan", "source": "s3://demo-trail/cloudtrail/AWSLogs/", "since": "2026-11-22", "until": "2026-11-23", "run_id": "demo-replay"}' >"$work/plan.json"
    plan=$(env "${replay_env[@]}" WARDEN_EVENT_FILE="$work/plan.json" "$bin/audit-replay" | tail -1)
    echo "       plan: $plan"
    .venv/bin/python - "$endpoint" "$work" <<'PY'
import json, sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
items = json.loads(s3.get_object(Bucket="demo-trail", Key="replay/demo-replay/manifest.json")["Body"].read())
for i, item in enumerate(items):
    json.dump({"action": "replay", "item": item, "run_id": "demo-replay"}, open(f"{sys.argv[2]}/item-{i}.json", "w"))
PY
    : >"$work/map-alerts.jsonl"
    n_items=0
    for f in "$work"/item-*.json; do
      out=$(env "${replay_env[@]}" WARDEN_EVENT_FILE="$f" "$bin/audit-replay" | tail -1) || { ko "item $f failed"; continue; }
      n_items=$((n_items + 1))
      echo "       item: $(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["day"], r["files"], "files,", r["warmup_files"], "warm-up files,", r["records"], "records,", r["alerts"], "alerts")' "$out")"
      key=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["alerts_key"])' "$out")
      .venv/bin/python -c 'import sys, boto3; sys.stdout.buffer.write(boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing").get_object(Bucket="demo-trail", Key=sys.argv[2])["Body"].read())' "$endpoint" "$key" >>"$work/map-alerts.jsonl"
    done
    "$warden" audit replay "s3://demo-trail/cloudtrail/AWSLogs/111111111111/CloudTrail/us-east-1/" --since 2026-11-22 --until 2026-11-23 \
      --grants "$work/grants-local.json" --config fixtures/cloudtrail/detect-config.json --endpoint-url "$endpoint" --region us-east-1 \
      >"$work/whole-alerts.jsonl" 2>/dev/null
    if [ "$n_items" -eq 2 ] && [ -s "$work/whole-alerts.jsonl" ] && cmp -s "$work/map-alerts.jsonl" "$work/whole-alerts.jsonl"; then
      ok "2 items (one trail folder × 2 days, each warmed up on the previous day's last two hours): their alerts together are warden audit replay s3://… --since 2026-11-22 --until 2026-11-23, byte for byte ($(wc -l <"$work/whole-alerts.jsonl") alerts)"
    else
      ko "archive replay: $n_items items, $(wc -l <"$work/map-alerts.jsonl") alerts vs $(wc -l <"$work/whole-alerts.jsonl") from one replay"
      diff <(sort "$work/map-alerts.jsonl") <(sort "$work/whole-alerts.jsonl") | head -5
    fi
  else
    ko "archive replay: could not write the trail bucket"
  fi

  step "warden report: one self-contained HTML page, from the trail's S3 folder and from the audit table"
  if "$warden" report --since 2026-11-22 --until 2026-11-24 "s3://demo-trail/cloudtrail/AWSLogs/111111111111/CloudTrail/us-east-1/" \
      --grants "$work/grants-local.json" --config fixtures/cloudtrail/detect-config.json --endpoint-url "$endpoint" --region us-east-1 \
      --out "$work/report-s3.html" 2>"$work/report-s3.log"; then
    tail -1 "$work/report-s3.log" | sed 's/^/       /'
    python3 - "$work/report-s3.html" <<'PY' && ok "report from S3: all six sections, alerts from the detectors, nothing fetched (no src/href, CSP default-src 'none')" || ko "report from S3 is missing a section"
import sys
h = open(sys.argv[1]).read()
ids = ["summary", "accounts", "objects", "alerts", "grants", "denied"]
missing = [i for i in ids if f'<section id="{i}">' not in h]
print(f"       {len(h)} bytes; sections: {', '.join(i for i in ids if i not in missing)}")
sys.exit(1 if missing or 'src="' in h or 'href="' in h or "No alerts in the window" in h else 0)
PY
  else
    ko "report from S3: $(tail -3 "$work/report-s3.log")"
  fi
  if "$warden" report --since 2026-11-01 --from-table "$AUDIT_TABLE" --registry-table "$REGISTRY_TABLE" \
      --endpoint-url "$endpoint" --region us-east-1 --out "$work/report-table.html" 2>"$work/report-table.log" \
      && grep -q "210000000000" "$work/report-table.html"; then
    tail -1 "$work/report-table.log" | sed 's/^/       /'
    ok "report from the audit table (one Query per registry account, through by-account-time)"
  else
    ko "report from the table: $(tail -3 "$work/report-table.log")"
  fi
  mkdir -p target/demo && cp "$work/report-s3.html" target/demo/report.html && echo "       kept: target/demo/report.html (open it in a browser)"

  unset AWS_ENDPOINT_URL WARDEN_RUN_ONCE
fi

printf '\ndemo: %d passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
