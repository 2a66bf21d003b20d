#!/usr/bin/env bash
# The main job: a local end-to-end run of Warden.
# Today: the policy engine on a 20-consumer registry (render, lint, decisions inside/outside
# prefixes, read vs write, expiry, batch simulation), CloudTrail replay through the detectors, and
# on the local AWS emulator (moto, installed into .venv and stopped at the end) the
# policy-reconciler Lambda applying the registry to a bucket and key, checked by the evaluator.
# It grows as the other Lambdas land (issue 6).
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

step "Build the warden CLI, the policy-reconciler Lambda and the local bootstrap tool"
cargo build --quiet --locked -p warden-cli -p policy-reconciler -p expiration-enforcer -p cost-reporter -p access-validator -p governance-check -p warden-local || { echo "build failed"; exit 1; }
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
  step "Governance: a planted drift is found, the reconciler repairs it"
  export METRICS_NAMESPACE=Warden/local
  report=$("$bin/governance-check" | tail -1); echo "       $report"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["drift"] == [] else 1)' "$report" && ok "no drift while the live state matches the registry" || ko "unexpected drift"
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
  report=$("$bin/governance-check" | tail -1); echo "       ${report:0:200}"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if [d["kind"] for d in r["drift"]] == ["bucket-policy"] else 1)' "$report" && ok "hand-widened bucket policy reported as drift (SNS + Drift metric)" || ko "planted drift not found"
  "$bin/policy-reconciler" >/dev/null
  report=$("$bin/governance-check" | tail -1)
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r["drift"] == [] else 1)' "$report" && ok "after the policy-reconciler runs, the policy is back in step" || ko "drift remains: $report"

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
  unset AWS_ENDPOINT_URL WARDEN_RUN_ONCE
fi

printf '\ndemo: %d passed, %d failed\n' "$pass" "$fail"
[ "$fail" -eq 0 ]
