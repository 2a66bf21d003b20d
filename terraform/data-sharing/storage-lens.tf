# S3 Storage Lens: usage and activity analytics (per-prefix storage, request activity) for cost
# allocation; daily metrics exported to the audit bucket (storage-lens/), which lets the
# storage-lens.s3.amazonaws.com principal write there (s3-audit.tf) and use the key (kms.tf).
#
# Spec 000 asks for analytics across accounts: with storage_lens_organization_arn set (the stack
# runs in the management account or a Storage Lens delegated administrator), the configuration
# is organization-level and covers every member account; otherwise it is account-level, limited
# to the shared bucket.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage_lens_with_organizations_registering_delegated_admins.html

resource "aws_s3control_storage_lens_configuration" "this" {
  count     = var.enable_storage_lens ? 1 : 0
  config_id = local.storage_lens_id

  storage_lens_configuration {
    enabled = true

    account_level {
      activity_metrics {
        enabled = true
      }

      bucket_level {
        activity_metrics {
          enabled = true
        }
        prefix_level {
          storage_metrics {
            enabled = true
            selection_criteria {
              delimiter                    = "/"
              max_depth                    = 3
              min_storage_bytes_percentage = 1
            }
          }
        }
      }
    }

    dynamic "aws_org" {
      for_each = var.storage_lens_organization_arn == null ? [] : [var.storage_lens_organization_arn]
      content {
        arn = aws_org.value
      }
    }

    # Account level: the shared bucket only. Organization level: every bucket of every account.
    dynamic "include" {
      for_each = var.storage_lens_organization_arn == null ? [1] : []
      content {
        buckets = [module.shared_bucket.arn]
      }
    }

    data_export {
      s3_bucket_destination {
        account_id            = local.account_id
        arn                   = module.audit_bucket.arn
        format                = "CSV"
        output_schema_version = "V_1"
        prefix                = "storage-lens"

        encryption {
          sse_kms {
            key_id = aws_kms_key.data.arn
          }
        }
      }
    }
  }
}
