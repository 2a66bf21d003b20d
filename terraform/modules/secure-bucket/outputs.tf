output "id" {
  description = "Name of the bucket. Taken from the configured name, so it is known at plan time and can feed another module's access_log_bucket."
  value       = aws_s3_bucket.this.bucket
}

output "arn" {
  description = "ARN of the bucket (arn:<partition>:s3:::<bucket_name>)."
  value       = aws_s3_bucket.this.arn
}

output "bucket_regional_domain_name" {
  description = "Region-specific domain name of the bucket (<bucket>.s3.<region>.amazonaws.com)."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}

output "policy_json" {
  description = "The merged bucket policy: the caller's policy_documents plus DenyInsecureTransport. Applied by the module when manage_policy is true; otherwise the policy the owner of the bucket policy should apply."
  value       = data.aws_iam_policy_document.this.json
}
