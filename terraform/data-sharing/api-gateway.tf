# The Warden API: REST, IAM (SigV4) authorization on every method, a resource policy limiting
# callers to the consumer roles (and, when set, to api_allowed_cidrs on a REGIONAL endpoint or to
# api_vpc_endpoint_ids on a PRIVATE one). POST /credentials → access-validator
# (always: API Gateway's verified caller identity is what stops one account asking for another's
# credentials). With the self-service portal: POST /requests → access-request and
# POST /approvals → approval-processor (approver decisions with the workflow's task token).
#
# The API is defined by the OpenAPI 3 document api/openapi.json (routes, SigV4 security, request
# validation against its JSON schemas). Terraform imports it as the API's body, keeping the routes
# this deployment enables and adding to each its Lambda proxy integration, and adds the resource
# policy as x-amazon-apigateway-policy. The document's examples are left out of the import (the
# contract tests replay them through the handlers; API Gateway does not use them).

locals {
  api_routes = merge(
    { credentials = module.access_validator.function_arn },
    var.enable_self_service_portal ? {
      requests  = module.access_request[0].function_arn
      approvals = module.approval_processor[0].function_arn
    } : {},
  )

  openapi = jsondecode(file("${path.module}/api/openapi.json"))

  api_body = jsonencode(merge(local.openapi, {
    # The import names the API after info.title; the same name as the resource's avoids a rename
    # and a rename back on every body change.
    info = merge(local.openapi.info, { title = "${local.name}-portal" })
    paths = {
      for route, function_arn in local.api_routes : "/${route}" => {
        post = merge(local.openapi.paths["/${route}"].post, {
          # $default as well: API Gateway validates only a body whose Content-Type has a model,
          # so without it a signed `text/plain` request would skip validation.
          # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-request-validation.html
          requestBody = {
            required = true
            content = {
              for media_type in ["application/json", "$default"] : media_type => {
                schema = local.openapi.paths["/${route}"].post.requestBody.content["application/json"].schema
              }
            }
          }
          "x-amazon-apigateway-integration" = {
            type                = "aws_proxy"
            httpMethod          = "POST"
            uri                 = "arn:${local.partition}:apigateway:${var.region}:lambda:path/2015-03-31/functions/${function_arn}/invocations"
            passthroughBehavior = "when_no_match"
          }
        })
      }
    }
    # In the body, not in a separate aws_api_gateway_rest_api_policy: an import in overwrite mode
    # replaces the API's policy with the body's, and provider 6.48+ leaves a separately managed
    # policy wiped after a body change (hashicorp/terraform-provider-aws#49672).
    "x-amazon-apigateway-policy" = jsondecode(data.aws_iam_policy_document.portal.json)
    }, var.api_endpoint_type == "PRIVATE" ? {
    # The import carries the endpoints itself, so overwriting the body never detaches them. In
    # OpenAPI 3 the extension belongs to a Server object (top-level is Swagger 2.0's place):
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-endpoint-configuration.html
    servers = [{
      url                                          = "/"
      "x-amazon-apigateway-endpoint-configuration" = { vpcEndpointIds = var.api_vpc_endpoint_ids }
    }]
  } : {}))
}

resource "aws_api_gateway_rest_api" "portal" {
  name        = "${local.name}-portal" # = the body's info.title
  description = "Warden API: credentials (and self-service requests when enabled)"
  body        = local.api_body
  # Overwrite: a route the deployment no longer enables (enable_self_service_portal = false) is
  # removed. A warning (an OpenAPI feature API Gateway drops) fails the apply instead of leaving
  # a route without its validation.
  put_rest_api_mode = "overwrite"
  fail_on_warnings  = true
  endpoint_configuration {
    types            = [var.api_endpoint_type]
    vpc_endpoint_ids = var.api_endpoint_type == "PRIVATE" ? var.api_vpc_endpoint_ids : null
  }

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.api_endpoint_type == "REGIONAL" || length(var.api_vpc_endpoint_ids) > 0
      error_message = "api_endpoint_type = \"PRIVATE\" needs api_vpc_endpoint_ids: a private API is reachable only through interface VPC endpoints."
    }
    precondition {
      condition     = var.api_endpoint_type == "REGIONAL" || length(var.api_allowed_cidrs) == 0
      error_message = "api_allowed_cidrs applies to a REGIONAL API only; a PRIVATE API is limited by api_vpc_endpoint_ids (aws:SourceVpce)."
    }
  }
}

# A REGIONAL endpoint sees the caller's public address in aws:SourceIp, so only public ranges can
# ever match; a PRIVATE endpoint is reached through VPC endpoints, identified by aws:SourceVpce.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies-examples.html
# Resources are written `execute-api:/<stage>/<method>/<path>`: on import API Gateway expands
# `execute-api:/` to this API's ARN (the API's own ARN would be a cycle: the policy is in its body).
# https://docs.aws.amazon.com/apigateway/latest/developerguide/openapi-extensions-policy.html
data "aws_iam_policy_document" "portal" {
  statement {
    sid       = "AllowIamCallersFromAllowedNetworks"
    actions   = ["execute-api:Invoke"]
    resources = ["execute-api:/*"]
    principals {
      type        = "AWS"
      identifiers = concat(["arn:${local.partition}:iam::${local.account_id}:root"], values(local.consumer_role_arns))
    }
    dynamic "condition" {
      for_each = length(var.api_allowed_cidrs) > 0 ? [1] : []
      content {
        test     = "IpAddress"
        variable = "aws:SourceIp"
        values   = var.api_allowed_cidrs
      }
    }
    dynamic "condition" {
      for_each = var.api_endpoint_type == "PRIVATE" ? [1] : []
      content {
        test     = "StringEquals"
        variable = "aws:SourceVpce"
        values   = var.api_vpc_endpoint_ids
      }
    }
  }

  # The network limits as explicit Denies too: a caller in this account whose own IAM policy
  # allows execute-api:Invoke is let in by that policy alone (the resource policy need not allow
  # it), so a condition on the Allow above would not hold it; a Deny holds everyone.
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-authorization-flow.html
  dynamic "statement" {
    for_each = length(var.api_allowed_cidrs) > 0 ? [1] : []
    content {
      sid       = "DenyCallersOutsideAllowedCidrs"
      effect    = "Deny"
      actions   = ["execute-api:Invoke"]
      resources = ["execute-api:/*"]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = "NotIpAddress"
        variable = "aws:SourceIp"
        values   = var.api_allowed_cidrs
      }
    }
  }

  dynamic "statement" {
    for_each = var.api_endpoint_type == "PRIVATE" ? [1] : []
    content {
      sid       = "DenyCallersOutsideVpcEndpoints"
      effect    = "Deny"
      actions   = ["execute-api:Invoke"]
      resources = ["execute-api:/*"]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = "StringNotEquals"
        variable = "aws:SourceVpce"
        values   = var.api_vpc_endpoint_ids
      }
    }
  }

  # POST /approvals: the approvers only (approver_principal_arns), from the same networks. They
  # may live in another account, so they are named (a cross-account caller needs the resource
  # policy's allow); everyone else — the account root's delegation above included — is denied
  # by the explicit Deny, which wins over any allow. aws:PrincipalArn is the role's ARN for an
  # assumed-role session (not the session's) and the user's ARN for a user:
  # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-authorization-flow.html
  dynamic "statement" {
    for_each = var.enable_self_service_portal && length(var.approver_principal_arns) > 0 ? [1] : []
    content {
      sid       = "AllowApproversToDecide"
      actions   = ["execute-api:Invoke"]
      resources = ["execute-api:/*/POST/approvals"]
      principals {
        type        = "AWS"
        identifiers = var.approver_principal_arns
      }
      dynamic "condition" {
        for_each = length(var.api_allowed_cidrs) > 0 ? [1] : []
        content {
          test     = "IpAddress"
          variable = "aws:SourceIp"
          values   = var.api_allowed_cidrs
        }
      }
      dynamic "condition" {
        for_each = var.api_endpoint_type == "PRIVATE" ? [1] : []
        content {
          test     = "StringEquals"
          variable = "aws:SourceVpce"
          values   = var.api_vpc_endpoint_ids
        }
      }
    }
  }

  dynamic "statement" {
    for_each = var.enable_self_service_portal ? [1] : []
    content {
      sid       = "DenyApprovalsFromAnyoneElse"
      effect    = "Deny"
      actions   = ["execute-api:Invoke"]
      resources = ["execute-api:/*/POST/approvals"]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      # No approver configured: nobody may decide.
      dynamic "condition" {
        for_each = length(var.approver_principal_arns) > 0 ? [1] : []
        content {
          test     = "ArnNotEquals"
          variable = "aws:PrincipalArn"
          values   = var.approver_principal_arns
        }
      }
    }
  }
}

resource "aws_lambda_permission" "portal" {
  for_each      = local.api_routes
  statement_id  = "api-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = each.value
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.portal.execution_arn}/*/POST/${each.key}"
}

resource "aws_api_gateway_deployment" "portal" {
  rest_api_id = aws_api_gateway_rest_api.portal.id

  # The body holds the routes, integrations, validation and the resource policy: a change of any
  # of them takes effect only with a new deployment.
  triggers = {
    redeploy = sha1(aws_api_gateway_rest_api.portal.body)
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "portal" {
  name              = "/aws/apigateway/${local.name}-portal"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
}

# Stage execution logging (logging_level) and access logging write to CloudWatch Logs through ONE
# role per account and Region, set in API Gateway's account settings; without it, creating the
# stage settings fails ("CloudWatch Logs role ARN must be set in account settings to enable
# logging"). Optional: an account may already have it (the setting is account-wide).
# https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
data "aws_iam_policy_document" "apigateway_logs_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
    # As in AWS's set-up page: no aws:SourceAccount condition, which that page does not show API
    # Gateway sending when it assumes this role (a condition on an absent key would refuse it).
  }
}

resource "aws_iam_role" "apigateway_logs" {
  count = var.create_api_gateway_account_role ? 1 : 0
  # One per account and Region (the setting is account-wide), so the name carries no environment:
  # a second environment in the same account and Region that also tries to create it fails loudly
  # (EntityAlreadyExists) instead of silently taking the setting over; set
  # create_api_gateway_account_role = false there.
  name               = "${var.project_name}-apigateway-cloudwatch-${var.region}"
  description        = "API Gateway writes execution and access logs of this account's APIs to CloudWatch Logs."
  assume_role_policy = data.aws_iam_policy_document.apigateway_logs_trust.json
}

resource "aws_iam_role_policy_attachment" "apigateway_logs" {
  count      = var.create_api_gateway_account_role ? 1 : 0
  role       = aws_iam_role.apigateway_logs[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count               = var.create_api_gateway_account_role ? 1 : 0
  cloudwatch_role_arn = aws_iam_role.apigateway_logs[0].arn

  depends_on = [aws_iam_role_policy_attachment.apigateway_logs]
}

resource "aws_api_gateway_stage" "portal" {
  #checkov:skip=CKV_AWS_120:Responses are per-caller authorization decisions; caching them would be wrong.
  #checkov:skip=CKV2_AWS_29:Every method requires SigV4 (IAM) and the resource policy limits source networks; attach an organization WAF ACL where one exists.
  #checkov:skip=CKV2_AWS_51:IAM (SigV4) authentication is required on every method; mutual TLS would need a custom domain.
  rest_api_id          = aws_api_gateway_rest_api.portal.id
  deployment_id        = aws_api_gateway_deployment.portal.id
  stage_name           = var.environment
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.portal.arn
    format = jsonencode({
      requestId = "$context.requestId", caller = "$context.identity.caller", user = "$context.identity.userArn"
      ip        = "$context.identity.sourceIp", path = "$context.resourcePath", status = "$context.status"
      time      = "$context.requestTime"
    })
  }

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "portal" {
  #checkov:skip=CKV_AWS_225:Responses are per-caller credentials and decisions; caching them would hand one caller's answer to another.
  rest_api_id = aws_api_gateway_rest_api.portal.id
  stage_name  = aws_api_gateway_stage.portal.stage_name
  method_path = "*/*"

  depends_on = [aws_api_gateway_account.this]

  settings {
    metrics_enabled        = true
    logging_level          = "INFO"
    data_trace_enabled     = false
    throttling_rate_limit  = 20
    throttling_burst_limit = 40
  }
}
