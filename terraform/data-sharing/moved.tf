# The buckets used to be written out resource by resource; they now come from
# ../modules/secure-bucket. These moves keep existing deployments from destroying and recreating
# them (and the data in them). What the module adds (the access-log bucket, ownership controls
# on the replica) is simply created.
# https://developer.hashicorp.com/terraform/language/modules/develop/refactoring

moved {
  from = aws_s3_bucket.audit
  to   = module.audit_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_versioning.audit
  to   = module.audit_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_object_lock_configuration.audit[0]
  to   = module.audit_bucket.aws_s3_bucket_object_lock_configuration.this[0]
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.audit
  to   = module.audit_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.audit
  to   = module.audit_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.audit
  to   = module.audit_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.audit
  to   = module.audit_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_policy.audit
  to   = module.audit_bucket.aws_s3_bucket_policy.this[0]
}

moved {
  from = aws_s3_bucket.shared
  to   = module.shared_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_versioning.shared
  to   = module.shared_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.shared
  to   = module.shared_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.shared
  to   = module.shared_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.shared
  to   = module.shared_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.shared
  to   = module.shared_bucket.aws_s3_bucket_lifecycle_configuration.this
}

moved {
  from = aws_s3_bucket_logging.shared
  to   = module.shared_bucket.aws_s3_bucket_logging.this[0]
}

moved {
  from = aws_s3_bucket.replica[0]
  to   = module.replica_bucket[0].aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_versioning.replica[0]
  to   = module.replica_bucket[0].aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.replica[0]
  to   = module.replica_bucket[0].aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_public_access_block.replica[0]
  to   = module.replica_bucket[0].aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.replica[0]
  to   = module.replica_bucket[0].aws_s3_bucket_lifecycle_configuration.this
}
