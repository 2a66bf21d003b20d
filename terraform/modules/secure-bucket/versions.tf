terraform {
  # 1.5: strcontains() in the bucket-name validation; moved blocks in callers need >= 1.1.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}
