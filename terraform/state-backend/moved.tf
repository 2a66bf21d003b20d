# The buckets used to be written out here resource by resource; they now come from
# ../modules/secure-bucket. These moves keep existing deployments from destroying and recreating
# the buckets (and the state in them). Resources the module adds that did not exist before
# (ownership controls and a bucket policy on the log bucket) are simply created.
# https://developer.hashicorp.com/terraform/language/modules/develop/refactoring

moved {
  from = aws_s3_bucket.logs
  to   = module.log_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.logs
  to   = module.log_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_versioning.logs
  to   = module.log_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.logs
  to   = module.log_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.logs
  to   = module.log_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket.state
  to   = module.state_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_versioning.state
  to   = module.state_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.state
  to   = module.state_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.state
  to   = module.state_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.state
  to   = module.state_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_logging.state
  to   = module.state_bucket.aws_s3_bucket_logging.this[0]
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.state
  to   = module.state_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.state
  to   = module.state_bucket.aws_s3_bucket_policy.this[0]
}
