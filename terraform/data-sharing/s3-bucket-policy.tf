# The bucket policy has one writer: the policy-reconciler (DESIGN.md, decision 2). It renders the
# grant statements from the registry with warden-core — principals sharing prefixes and level share
# a statement, ListBucket limited by s3:prefix, every grant expiring via DateLessThan
# aws:CurrentTime — and refuses to apply a policy over 20 KB.
#
# Terraform owns the baseline statements below (TLS only, SSE-KMS only, this key only) and hands
# them to the reconciler through SSM; it does not manage aws_s3_bucket_policy itself, so the two
# never fight over the document. The reconciler is invoked once per apply when the baseline or
# the declared grants change.

data "aws_iam_policy_document" "bucket_baseline" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [module.shared_bucket.arn, "${module.shared_bucket.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyUploadsWithoutSseKms"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${module.shared_bucket.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms", "aws:kms:dsse"]
    }
  }

  statement {
    sid       = "DenyUploadsWithOtherKmsKey"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${module.shared_bucket.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [aws_kms_key.data.arn]
    }
  }

  # `aws:kms` without a key id: S3 would use the AWS managed key aws/s3 ("If you specify
  # x-amz-server-side-encryption:aws:kms … but do not provide
  # x-amz-server-side-encryption-aws-kms-key-id, Amazon S3 uses the AWS managed key (aws/s3)"),
  # which consumers cannot decrypt and this key's policy does not govern. Only requests that carry
  # the encryption header are caught, so multipart UploadPart calls (no SSE headers) pass.
  # https://sdk.amazonaws.com/kotlin/api/latest/s3/aws.sdk.kotlin.services.s3.model/-put-object-request/ssekms-key-id.html
  statement {
    sid       = "DenyKmsUploadsWithoutKeyId"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${module.shared_bucket.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms", "aws:kms:dsse"]
    }
    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = ["true"]
    }
  }
}

resource "aws_ssm_parameter" "bucket_baseline" {
  name        = "/${var.project_name}/${var.environment}/bucket-policy-baseline"
  description = "Baseline statements of the shared bucket policy; the policy-reconciler adds the grant statements."
  type        = "SecureString"
  key_id      = aws_kms_key.data.arn
  value       = data.aws_iam_policy_document.bucket_baseline.json
}

resource "aws_lambda_invocation" "reconcile_on_apply" {
  # `ready`, not `function_name`: known only once the function's role policies are in force.
  function_name = module.policy_reconciler.ready
  input = jsonencode({
    source        = "terraform"
    reason        = "apply"
    baseline_hash = sha256(data.aws_iam_policy_document.bucket_baseline.json)
    grants_hash   = sha256(jsonencode(var.consumer_accounts))
    # A change of tiers re-renders both: consumers move between the bucket policy and their
    # access points at this apply, not at the next registry event.
    sharing = "${var.sharing_mode}/${var.access_point_threshold}/${local.name}"
  })

  # The declared consumers' access points exist before the reconciler writes their policies (it
  # creates one itself only for a consumer that has none: a self-service consumer).
  depends_on = [aws_dynamodb_table_item.declared_grant, aws_ssm_parameter.bucket_baseline, aws_s3_access_point.consumer]
}

# The access-point tier (DESIGN.md, decision 3). Terraform owns the existence of the declared
# consumers' access points; the policy-reconciler owns their policies (rendered from the registry
# with the grants' DateLessThan expiry) and the bucket policy's statement delegating to them:
# "both the access point and the underlying bucket must permit the request", and the bucket
# delegates with `s3:DataAccessPointAccount` = this account, narrowed to the ARNs
# `accesspoint/<project>-<env>-*` (access-points-policies.html, "Delegating access control to
# access points"). With "auto" every declared consumer gets one, whichever tier the reconciler
# puts it on: which consumers fit under the threshold depends on self-service grants Terraform
# cannot see, and an access point without a policy grants another account nothing (for
# cross-account access the access point policy must allow the role, access-points-policies.html).
# Keys are account IDs, known at plan time (for_each refuses values known only after apply).
resource "aws_s3_access_point" "consumer" {
  for_each = var.sharing_mode == "bucket-policy" ? {} : local.consumers

  bucket = module.shared_bucket.id
  # <project>-<env>-<account>: at most 16 + 1 + 12 + 1 + 12 = 42 of the 50 characters S3 allows
  # (access-points-restrictions-limitations.html).
  name = "${local.name}-${each.key}"

  # Public access stays blocked on the access point as on the bucket; the reconciler's policies
  # name one role each and are never public.
  public_access_block_configuration {
    block_public_acls       = true
    block_public_policy     = true
    ignore_public_acls      = true
    restrict_public_buckets = true
  }

  tags = local.tags

  lifecycle {
    # The policy-reconciler writes the policy (from the registry, self-service grants included).
    ignore_changes = [policy]
  }
}
