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
