terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.48: a REST API whose resource policy is in its OpenAPI body keeps the body's policy on
      # update (earlier versions re-applied the previous policy from state after the import:
      # hashicorp/terraform-provider-aws#48118). The stack is checked against the 6.x schema.
      version = ">= 6.48, < 7.0"
    }
    time = {
      source  = "hashicorp/time"
      version = ">= 0.9"
    }
  }
}
