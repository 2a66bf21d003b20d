output "consumer_role_arn" {
  description = "ARN of the consumer role (deterministic: arn:aws:iam::<account>:role/<consumer_role_name>)."
  value       = aws_iam_role.consumer.arn
}

output "governance_role_arn" {
  description = "ARN of the read-only role governance-check assumes."
  value       = aws_iam_role.governance.arn
}
