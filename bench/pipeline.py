#!/usr/bin/env python3
"""A straightforward Python implementation of Warden's replay pipeline, for comparison.

This is the approach spec 000 assumed for the Lambdas: json.loads, dict access, running sums for
windows. It is written to be honest, not slow: same inputs, same normalisation, the same twelve
detectors with the same thresholds and bounded per-account bucket rings, and the same output —
alerts with the same severity, summary and details (bench/run.sh checks the two outputs are
identical line for line), and the same per-account summary.

usage: pipeline.py GRANTS_FILE PATH...   (alerts as JSON lines on stdout, a summary on stderr)
"""
import gzip
import json
import os
import sys
from datetime import datetime, timezone

BUCKETS = 10
S3_WRITES = {"PutObject", "CopyObject", "DeleteObject", "DeleteObjects", "CreateMultipartUpload",
             "UploadPart", "UploadPartCopy", "CompleteMultipartUpload", "AbortMultipartUpload",
             "PutObjectTagging", "DeleteObjectTagging", "PutObjectAcl", "RestoreObject", "PutObjectRetention"}
POLICY = {("s3.amazonaws.com", n) for n in ["PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl",
          "PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock", "PutBucketEncryption",
          "DeleteBucketEncryption", "PutBucketVersioning", "PutBucketReplication", "DeleteBucketReplication",
          "PutBucketOwnershipControls", "PutAccountPublicAccessBlock", "DeleteAccountPublicAccessBlock"]}
POLICY |= {("iam.amazonaws.com", n) for n in ["CreateRole", "DeleteRole", "UpdateRole", "UpdateAssumeRolePolicy",
           "PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "PutRolePermissionsBoundary",
           "DeleteRolePermissionsBoundary", "CreatePolicy", "CreatePolicyVersion", "DeletePolicy",
           "SetDefaultPolicyVersion", "PutUserPolicy", "AttachUserPolicy"]}
POLICY |= {("kms.amazonaws.com", "PutKeyPolicy"), ("s3control.amazonaws.com", "PutPublicAccessBlock")}
KEY_LOSS = {"DisableKey", "ScheduleKeyDeletion", "DeleteImportedKeyMaterial"}
KMS_USE = {"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt",
           "ReEncryptFrom", "ReEncryptTo", "CreateGrant", "DescribeKey"}
TAMPER = {"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "PutInsightSelectors",
          "DeleteEventDataStore", "UpdateEventDataStore", "StopEventDataStoreIngestion", "DeleteChannel"}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Client.UnauthorizedOperation",
          "UnauthorizedAccess", "AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken"}


class Window:
    """Per-account ring of BUCKETS buckets: a sliding sum with a threshold, once per burst."""

    def __init__(self, threshold, seconds):
        self.bucket = max(1, seconds // BUCKETS)
        self.threshold = threshold
        self.rings = {}

    def add(self, account, t, amount):
        b = t // self.bucket
        ring = self.rings.get(account)
        if ring is None:
            ring = self.rings[account] = [b, [0] * BUCKETS, -1 << 62]
        latest, counts = ring[0], ring[1]
        if b > latest:
            for k in range(1, min(b - latest, BUCKETS) + 1):
                counts[(latest + k) % BUCKETS] = 0
            ring[0] = latest = b
        elif b <= latest - BUCKETS:
            return None
        counts[b % BUCKETS] += amount
        total = sum(counts)
        if total > self.threshold and latest >= ring[2]:
            ring[2] = latest + BUCKETS
            return total
        return None


def load_grants(path):
    doc = json.load(open(path))
    grants = {}
    for g in doc["consumer_accounts"]:
        exp = datetime.fromisoformat(g["expiration_date"].replace("Z", "+00:00")).timestamp()
        grants.setdefault(g["account_id"], []).append((g["allowed_prefixes"], g["access_level"] == "read-write", exp))
    return grants, {doc.get("primary_account_id")}, doc.get("bucket_name")


def records_of(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    text = raw.decode()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(doc, list):
        return doc
    if "Records" in doc:
        return doc["Records"]
    if "detail" in doc:
        return [doc["detail"]]
    return [doc]


def normalise(r):
    u = r.get("userIdentity") or {}
    issuer = ((u.get("sessionContext") or {}).get("sessionIssuer") or {})
    if u.get("type") == "AssumedRole" and issuer.get("arn"):
        principal = issuer["arn"]
    else:
        principal = u.get("arn") or issuer.get("arn") or u.get("invokedBy") or "unknown"
    account = u.get("accountId") or issuer.get("accountId") or "unknown"
    t = datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00"))
    params = r.get("requestParameters") or {}
    extra = r.get("additionalEventData") or {}
    b_in = int(extra.get("bytesTransferredIn") or 0)
    b_out = int(extra.get("bytesTransferredOut") or 0)
    src = r.get("eventSource") or ""
    name = r.get("eventName") or ""
    bucket, key = params.get("bucketName"), params.get("key")
    if key is None:
        # As warden-core does: the object from resources[] when requestParameters has no key.
        for res in r.get("resources") or []:
            arn = res.get("ARN") or ""
            if res.get("type") == "AWS::S3::Object" and arn.startswith("arn:aws:s3:::") and "/" in arn:
                b, key = arn[len("arn:aws:s3:::"):].split("/", 1)
                bucket = bucket or b
                break
    return {
        "timestamp": t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epoch": int(t.timestamp()), "hour": t.hour, "weekday": t.weekday(),
        "account_id": account, "principal_arn": principal, "action": src.split(".")[0] + ":" + name,
        "object_key": key, "bytes_transferred": b_in + b_out, "bytes_out": b_out,
        "source_ip": r.get("sourceIPAddress") or "unknown", "success_status": r.get("errorCode") is None,
        "event_id": r.get("eventID") or "synthetic", "event_source": src, "event_name": name,
        "bucket": bucket, "error_code": r.get("errorCode"),
        "identity_type": u.get("type") or "Unknown",
        "time": t,
        "mfa": ((u.get("sessionContext") or {}).get("attributes") or {}).get("mfaAuthenticated") == "true",
    }


def main():
    grants, trusted, bucket = load_grants(sys.argv[1])
    files = []
    for p in sys.argv[2:]:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                files += [os.path.join(root, n) for n in sorted(names) if n.endswith((".json", ".gz", ".jsonl"))]
        else:
            files.append(p)
    spikes, fails, egress = Window(1000, 300), Window(10, 300), Window(100 * 2**30, 3600)
    out = sys.stdout
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    n = alerts = 0
    summary = {}
    tf = lambda b: "true" if b else "false"

    def emit(det, severity, rec, text, details):
        nonlocal alerts
        alerts += 1
        summary.setdefault(rec["account_id"], [0, 0, 0, 0])[3] += 1
        out.write(dumps({"detector": det, "severity": severity, "event_id": rec["event_id"],
                         "account_id": rec["account_id"], "summary": text, "details": details}) + "\n")

    for f in sorted(files):
        for raw in records_of(f):
            if not isinstance(raw, dict) or not raw.get("eventTime"):
                continue
            r = normalise(raw)
            n += 1
            acct, src, name, action = r["account_id"], r["event_source"], r["event_name"], r["action"]
            s = summary.setdefault(acct, [0, 0, 0, 0])
            s[0] += 1
            s[1] += r["bytes_transferred"]
            s[2] += not r["success_status"]
            service = r["identity_type"] == "AWSService" or acct == "unknown"
            on_bucket = src == "s3.amazonaws.com" and (bucket is None or r["bucket"] == bucket)
            known = acct in trusted or acct in grants
            ok = r["success_status"]
            if on_bucket and not service and not known:
                emit("unknown-account", "high", r,
                     f"account {acct} is not in the registry but called {action} on the shared bucket",
                     {"principal_arn": r["principal_arn"], "action": action, "object_key": r["object_key"],
                      "source_ip": r["source_ip"], "success": ok})
            key = r["object_key"]
            if key and on_bucket and acct in grants:
                write = name in S3_WRITES
                allows = lambda w: any(r["epoch"] < exp and (not w or rw) and any(key.startswith(p) for p in prefixes)
                                       for prefixes, rw, exp in grants[acct])
                if not allows(write):
                    what = ("wrote under a read-only grant" if write and allows(False)
                            else "accessed a key outside its granted prefixes (or after expiry)")
                    emit("prefix-outside-grant", "high" if ok else "medium", r, f"account {acct} {what}: {action} {key}",
                         {"object_key": key, "action": action, "write": write, "success": ok,
                          "principal_arn": r["principal_arn"]})
            if ok and (src, name) in POLICY:
                emit("policy-change", "high", r, f"{action} by {r['principal_arn']}",
                     {"action": action, "principal_arn": r["principal_arn"], "bucket": r["bucket"],
                      "source_ip": r["source_ip"]})
            if src == "kms.amazonaws.com" and name in KEY_LOSS:
                emit("key-loss", "critical" if ok else "high", r,
                     f"{action} by {r['principal_arn']} (attempted: {tf(not ok)})",
                     {"action": action, "principal_arn": r["principal_arn"], "success": ok})
            if src == "kms.amazonaws.com" and name in KMS_USE and not service and not known:
                emit("kms-unexpected-account", "high", r, f"account {acct} used the key ({action}) but holds no grant",
                     {"action": action, "principal_arn": r["principal_arn"], "success": ok, "source_ip": r["source_ip"]})
            if r["bytes_transferred"] >= 2**30:
                emit("large-transfer", "medium", r, f"{acct} moved {r['bytes_transferred']} bytes in one request ({action})",
                     {"bytes": r["bytes_transferred"], "threshold": 2**30, "object_key": key,
                      "principal_arn": r["principal_arn"]})
            if src == "s3.amazonaws.com" and key and not service and (bucket is None or r["bucket"] == bucket):
                if r["weekday"] >= 5 or not (9 <= r["hour"] < 18):
                    t = r["time"]
                    emit("off-hours", "low", r,
                         f"{acct} {action} at {t.strftime('%a')} {t.hour:02}:{t.minute:02} local time (UTC)",
                         {"local_time": t.isoformat(), "time_zone": "UTC", "object_key": key})
            if src == "s3.amazonaws.com" and not service:
                total = spikes.add(acct, r["epoch"], 1)
                if total:
                    emit("request-spike", "high", r, f"{acct} made more than 1000 S3 requests in 300 s",
                         {"requests": total, "threshold": 1000, "window_seconds": 300})
            if r["error_code"] in DENIED:
                total = fails.add(acct, r["epoch"], 1)
                if total:
                    emit("failed-auth", "high", r,
                         f"{acct} had more than 10 denied calls in 300 s (last: {action} {r['error_code']})",
                         {"failures": total, "threshold": 10, "window_seconds": 300, "last_error": r["error_code"]})
            if r["bytes_out"]:
                total = egress.add(acct, r["epoch"], r["bytes_out"])
                if total:
                    emit("egress-spike", "high", r, f"{acct} downloaded more than {100 * 2**30} bytes in 3600 s",
                         {"bytes": total, "threshold": 100 * 2**30, "window_seconds": 3600})
            if src == "cloudtrail.amazonaws.com" and name in TAMPER:
                emit("audit-tampering", "critical", r, f"{action} by {r['principal_arn']} (success: {tf(ok)})",
                     {"action": action, "principal_arn": r["principal_arn"], "source_ip": r["source_ip"], "success": ok})
            if r["identity_type"] == "Root":
                emit("root-activity", "high", r, f"root user of {acct} called {action}",
                     {"action": action, "source_ip": r["source_ip"], "mfa": r["mfa"], "success": ok})
    err = sys.stderr
    err.write(f"{'account':<14} {'records':>9} {'bytes':>15} {'failed':>7} {'alerts':>7}\n")
    for acct in sorted(summary):
        c = summary[acct]
        err.write(f"{acct:<14} {c[0]:>9} {c[1]:>15} {c[2]:>7} {c[3]:>7}\n")
    err.write(f"{len(files)} file(s) read, {n} record(s), {alerts} alert(s)\n")


if __name__ == "__main__":
    main()
