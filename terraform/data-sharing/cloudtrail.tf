# An organization trail (use_organization_trail) or a trail for this account: management events
# plus S3 data events on the shared bucket, multi-region, validated, KMS-encrypted, delivered to the
# audit bucket. CloudTrail events reach EventBridge on their own: the access-logger and the
# security rules read them there.

resource "aws_cloudtrail" "this" {
  #checkov:skip=CKV_AWS_252:Per-file delivery notifications are not needed; events reach EventBridge directly.
  #checkov:skip=CKV2_AWS_10:Live analysis runs on EventBridge events (access-logger); CloudWatch Logs delivery would duplicate it.
  name                          = local.trail_name
  s3_bucket_name                = module.audit_bucket.id
  s3_key_prefix                 = "cloudtrail"
  is_multi_region_trail         = true
  is_organization_trail         = var.use_organization_trail
  include_global_service_events = true
  enable_log_file_validation    = true
  kms_key_id                    = aws_kms_key.data.arn

  advanced_event_selector {
    name = "Management events"
    field_selector {
      field  = "eventCategory"
      equals = ["Management"]
    }
  }

  advanced_event_selector {
    name = "Data events on the shared bucket"
    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }
    field_selector {
      field  = "resources.type"
      equals = ["AWS::S3::Object"]
    }
    field_selector {
      field       = "resources.ARN"
      starts_with = ["${module.shared_bucket.arn}/"]
    }
  }

  depends_on = [module.audit_bucket]
}
