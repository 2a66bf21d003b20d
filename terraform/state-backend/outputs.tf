output "state_bucket_name" {
  description = "Name of the S3 bucket holding Terraform state (use as `bucket` in backend configs)."
  value       = aws_s3_bucket.state.id
}

output "state_bucket_arn" {
  description = "ARN of the state bucket."
  value       = aws_s3_bucket.state.arn
}

output "lock_table_name" {
  description = "DynamoDB table for state locking (use as `dynamodb_table` in backend configs)."
  value       = aws_dynamodb_table.lock.name
}

output "state_kms_key_arn" {
  description = "ARN of the customer-managed KMS key encrypting state (use as `kms_key_id` in backend configs)."
  value       = aws_kms_key.state.arn
  sensitive   = true
}

output "backend_config" {
  description = "Values for `terraform init -backend-config=…` in the other stacks."
  value = {
    bucket         = aws_s3_bucket.state.id
    region         = var.region
    dynamodb_table = aws_dynamodb_table.lock.name
    encrypt        = true
  }
}
