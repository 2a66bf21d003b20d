# Access records written by the access-logger, one per CloudTrail event (layout decided in
# warden-core, cloudtrail/normalise.rs): event_id is the key, so a re-delivered event overwrites
# itself; GSIs answer "account A between T1 and T2" and "who touched this object"; TTL removes
# records after access_log_ttl_days.

resource "aws_dynamodb_table" "audit_logs" {
  name                        = "${local.name}-access-logs"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "event_id"
  deletion_protection_enabled = var.environment == "prod"

  attribute {
    name = "event_id"
    type = "S"
  }
  attribute {
    name = "account_id"
    type = "S"
  }
  attribute {
    name = "timestamp"
    type = "S"
  }
  attribute {
    name = "object_ref"
    type = "S"
  }

  global_secondary_index {
    name            = "by-account-time"
    hash_key        = "account_id"
    range_key       = "timestamp"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "by-object-time"
    hash_key        = "object_ref"
    range_key       = "timestamp"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}

# The alert ledger: one item per (CloudTrail event, detector). The access-logger claims an alert
# here with a conditional PutItem before publishing it, marks it sent after, and releases it when
# SNS refuses; SQS redeliveries and concurrent instances therefore publish each alert once, and
# an alert found but not yet published survives until its message comes back. The
# expiration-enforcer keeps its owner notices here the same way (partition
# "warden-owner-notices"), so a notice SNS refused is sent by the next run, once. Items expire
# after 30 days (longer than SQS and its DLQ keep a message). Layout: crates/aws/src/alert_ledger.rs.
resource "aws_dynamodb_table" "alert_ledger" {
  name                        = "${local.name}-alert-ledger"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "event_id"
  range_key                   = "detector"
  deletion_protection_enabled = var.environment == "prod"

  attribute {
    name = "event_id"
    type = "S"
  }
  attribute {
    name = "detector"
    type = "S"
  }
  attribute {
    name = "released"
    type = "S"
  }

  # Sparse: only alerts whose publish failed carry `released`; the logger sweeps them, so an
  # alert whose message never comes back counting its receives (a DLQ redrive sends new
  # messages) is still published.
  global_secondary_index {
    name            = "by-released"
    hash_key        = "released"
    range_key       = "event_id"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}
