#!/usr/bin/env python3
"""A straightforward Python implementation of Warden's replay pipeline, for comparison.

This is the approach spec 000 assumed for the Lambdas: json.loads, dict access, running sums for
windows. It is written to be honest, not slow: same inputs, same normalisation, the same twelve
detectors with the same thresholds and bounded per-account bucket rings.

usage: pipeline.py GRANTS_FILE PATH...   (alerts as JSON lines on stdout, a count on stderr)
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
    n = alerts = 0

    def emit(det, rec, summary):
        nonlocal alerts
        alerts += 1
        out.write(json.dumps({"detector": det, "event_id": rec["event_id"], "account_id": rec["account_id"], "summary": summary}) + "\n")

    for f in sorted(files):
        for raw in records_of(f):
            if not isinstance(raw, dict) or not raw.get("eventTime"):
                continue
            r = normalise(raw)
            n += 1
            acct, src, name = r["account_id"], r["event_source"], r["event_name"]
            service = r["identity_type"] == "AWSService" or acct == "unknown"
            on_bucket = src == "s3.amazonaws.com" and (bucket is None or r["bucket"] == bucket)
            known = acct in trusted or acct in grants
            if on_bucket and not service and not known:
                emit("unknown-account", r, "unknown account")
            key = r["object_key"]
            if key and on_bucket and acct in grants:
                write = name in S3_WRITES
                ok = any(r["epoch"] < exp and (not write or rw) and any(key.startswith(p) for p in prefixes)
                         for prefixes, rw, exp in grants[acct])
                if not ok:
                    emit("prefix-outside-grant", r, "outside grant")
            if r["success_status"] and (src, name) in POLICY:
                emit("policy-change", r, "policy change")
            if src == "kms.amazonaws.com" and name in KEY_LOSS:
                emit("key-loss", r, "key loss")
            if src == "kms.amazonaws.com" and name in KMS_USE and not service and not known:
                emit("kms-unexpected-account", r, "kms use")
            if r["bytes_transferred"] >= 2**30:
                emit("large-transfer", r, "large transfer")
            if src == "s3.amazonaws.com" and key and not service and (bucket is None or r["bucket"] == bucket):
                if r["weekday"] >= 5 or not (9 <= r["hour"] < 18):
                    emit("off-hours", r, "off hours")
            if src == "s3.amazonaws.com" and not service and spikes.add(acct, r["epoch"], 1):
                emit("request-spike", r, "spike")
            if r["error_code"] in DENIED and fails.add(acct, r["epoch"], 1):
                emit("failed-auth", r, "failed auth")
            if r["bytes_out"] and egress.add(acct, r["epoch"], r["bytes_out"]):
                emit("egress-spike", r, "egress")
            if src == "cloudtrail.amazonaws.com" and name in TAMPER:
                emit("audit-tampering", r, "tampering")
            if r["identity_type"] == "Root":
                emit("root-activity", r, "root")
    print(f"{n} records, {alerts} alerts", file=sys.stderr)


if __name__ == "__main__":
    main()
