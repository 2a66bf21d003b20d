# The registry: who may access what, until when. Single source of truth (DESIGN.md, decision 1).
# Keys: account_id + grant_id. GSI by-expiry: grant_state (active/revoked) + expiration_date, so
# "every active grant expiring before now" is one Query (a GSI keyed on expiration_date alone
# could not answer it). The stream drives the policy-reconciler.

resource "aws_dynamodb_table" "access_control" {
  name                        = "${local.name}-access-control"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "account_id"
  range_key                   = "grant_id"
  stream_enabled              = true
  stream_view_type            = "NEW_AND_OLD_IMAGES"
  deletion_protection_enabled = var.environment == "prod"

  attribute {
    name = "account_id"
    type = "S"
  }
  attribute {
    name = "grant_id"
    type = "S"
  }
  attribute {
    name = "grant_state"
    type = "S"
  }
  attribute {
    name = "expiration_date"
    type = "S"
  }

  global_secondary_index {
    name            = "by-expiry"
    hash_key        = "grant_state"
    range_key       = "expiration_date"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}

# When each declared grant was first written (stable across applies).
resource "time_static" "grant_created" {
  for_each = local.consumers
  triggers = {
    account_id = each.key
  }
}

resource "aws_dynamodb_table_item" "declared_grant" {
  for_each   = local.consumers
  table_name = aws_dynamodb_table.access_control.name
  hash_key   = aws_dynamodb_table.access_control.hash_key
  range_key  = aws_dynamodb_table.access_control.range_key

  item = jsonencode({
    account_id       = { S = each.key }
    grant_id         = { S = "declared" }
    name             = { S = each.value.name }
    allowed_prefixes = { L = [for p in sort(each.value.allowed_prefixes) : { S = p }] }
    access_level     = { S = each.value.access_level }
    expiration_date  = { S = each.value.expiration_date }
    grant_state      = { S = "active" }
    owner_email      = { S = coalesce(each.value.owner_email, "unset") }
    created_by       = { S = "terraform" }
    created_at       = { S = time_static.grant_created[each.key].rfc3339 }
  })

  # The registry's stream triggers the reconciler, which creates an access point a consumer
  # lacks: Terraform's must exist first, or its create would meet AccessPointAlreadyOwnedByYou.
  depends_on = [aws_s3_access_point.consumer]
}
