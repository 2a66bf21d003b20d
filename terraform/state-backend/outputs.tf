output "state_bucket_name" {
  description = "Name of the S3 bucket holding Terraform state (use as `bucket` in backend configs)."
  value       = module.state_bucket.id
}

output "state_bucket_arn" {
  description = "ARN of the state bucket."
  value       = module.state_bucket.arn
}

output "access_log_bucket_name" {
  description = "Bucket receiving the state bucket's S3 server access logs (prefix state-access/, SSE-S3)."
  value       = module.log_bucket.id
}

output "lock_table_name" {
  description = "DynamoDB table for state locking (use as `dynamodb_table` in backend configs)."
  value       = aws_dynamodb_table.lock.name
}

output "state_kms_key_arn" {
  description = "ARN of the customer-managed KMS key encrypting state (use as `kms_key_id` in backend configs; the bucket policy rejects state written without it)."
  value       = aws_kms_key.state.arn
  sensitive   = true
}

output "backend_config" {
  description = "Values for `terraform init -backend-config=…` in the other stacks, including kms_key_id (sensitive because it embeds the key ARN; read it with `terraform output -json backend_config`)."
  value = {
    bucket         = module.state_bucket.id
    region         = var.region
    dynamodb_table = aws_dynamodb_table.lock.name
    encrypt        = true
    kms_key_id     = aws_kms_key.state.arn
  }
  sensitive = true
}
