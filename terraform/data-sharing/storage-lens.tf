# S3 Storage Lens: usage and activity analytics (per-prefix storage, request activity) for cost
# allocation; daily metrics exported to the audit bucket.

resource "aws_s3control_storage_lens_configuration" "this" {
  count     = var.enable_storage_lens ? 1 : 0
  config_id = "${local.name}-lens"

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

    include {
      buckets = [aws_s3_bucket.shared.arn]
    }

    data_export {
      s3_bucket_destination {
        account_id            = local.account_id
        arn                   = aws_s3_bucket.audit.arn
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
