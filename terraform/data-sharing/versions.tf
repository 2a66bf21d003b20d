terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.27: aws_cloudwatch_event_rule `state` (ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS).
      version = ">= 5.27, < 7.0"
    }
    time = {
      source  = "hashicorp/time"
      version = ">= 0.9"
    }
  }
}
