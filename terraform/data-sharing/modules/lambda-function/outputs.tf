output "function_name" {
  description = "Function name."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "Function ARN."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.this.name
}

output "dlq_arn" {
  description = "ARN of the function's dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the function's dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "ready" {
  description = "The function name, known only once the function, every policy of its role and the IAM propagation wait exist: invoke the function during an apply through this, never through function_name."
  value       = aws_lambda_function.this.function_name
  depends_on  = [time_sleep.iam_propagation, aws_lambda_function_event_invoke_config.this]
}

output "dlq_name" {
  description = "Name of the function's dead-letter queue (the QueueName dimension of its alarm)."
  value       = aws_sqs_queue.dlq.name
}
