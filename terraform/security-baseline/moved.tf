# The trail/Config bucket used to be written out in logging.tf resource by resource; it now comes
# from ../modules/secure-bucket. These moves keep existing deployments from destroying and
# recreating the bucket and its audit logs. The module's ownership controls (BucketOwnerEnforced)
# are new and simply created.
# https://developer.hashicorp.com/terraform/language/modules/develop/refactoring

moved {
  from = aws_s3_bucket.trail
  to   = module.trail_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_versioning.trail
  to   = module.trail_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.trail
  to   = module.trail_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.trail
  to   = module.trail_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.trail
  to   = module.trail_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.trail
  to   = module.trail_bucket.aws_s3_bucket_policy.this[0]
}
