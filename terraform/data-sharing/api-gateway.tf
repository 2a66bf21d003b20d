# The Warden API: REST, IAM (SigV4) authorization on every method, a resource policy limiting
# callers to the consumer roles and api_allowed_cidrs. POST /credentials → access-validator
# (always: API Gateway's verified caller identity is what stops one account asking for another's
# credentials). With the self-service portal: POST /requests → access-request and
# POST /approvals → approval-processor (approver decisions with the workflow's task token).

locals {
  api_routes = merge(
    { credentials = module.access_validator.function_arn },
    var.enable_self_service_portal ? {
      requests  = module.access_request[0].function_arn
      approvals = module.approval_processor[0].function_arn
    } : {},
  )
}

resource "aws_api_gateway_rest_api" "portal" {
  name        = "${local.name}-portal"
  description = "Warden API: credentials (and self-service requests when enabled)"
  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

data "aws_iam_policy_document" "portal" {
  statement {
    sid       = "AllowIamCallersFromAllowedNetworks"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_api_gateway_rest_api.portal.execution_arn}/*"]
    principals {
      type        = "AWS"
      identifiers = concat(["arn:${local.partition}:iam::${local.account_id}:root"], values(local.consumer_role_arns))
    }
    condition {
      test     = "IpAddress"
      variable = "aws:SourceIp"
      values   = var.api_allowed_cidrs
    }
  }
}

resource "aws_api_gateway_rest_api_policy" "portal" {
  rest_api_id = aws_api_gateway_rest_api.portal.id
  policy      = data.aws_iam_policy_document.portal.json
}

resource "aws_api_gateway_resource" "route" {
  for_each    = local.api_routes
  rest_api_id = aws_api_gateway_rest_api.portal.id
  parent_id   = aws_api_gateway_rest_api.portal.root_resource_id
  path_part   = each.key
}

# API Gateway checks a JSON body is present; the functions validate every field and answer with
# an error naming the field and the rule.
resource "aws_api_gateway_request_validator" "portal" {
  name                        = "body-and-parameters"
  rest_api_id                 = aws_api_gateway_rest_api.portal.id
  validate_request_body       = true
  validate_request_parameters = true
}

resource "aws_api_gateway_method" "route" {
  for_each             = local.api_routes
  rest_api_id          = aws_api_gateway_rest_api.portal.id
  resource_id          = aws_api_gateway_resource.route[each.key].id
  http_method          = "POST"
  authorization        = "AWS_IAM"
  request_validator_id = aws_api_gateway_request_validator.portal.id
  request_models       = { "application/json" = "Empty" }
}

resource "aws_api_gateway_integration" "route" {
  for_each                = local.api_routes
  rest_api_id             = aws_api_gateway_rest_api.portal.id
  resource_id             = aws_api_gateway_resource.route[each.key].id
  http_method             = aws_api_gateway_method.route[each.key].http_method
  integration_http_method = "POST"
  type                    = "AWS_PROXY"
  uri                     = "arn:${local.partition}:apigateway:${var.region}:lambda:path/2015-03-31/functions/${each.value}/invocations"
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

  triggers = {
    redeploy = sha1(jsonencode([
      [for k, r in aws_api_gateway_resource.route : r.id],
      [for k, m in aws_api_gateway_method.route : m.id],
      [for k, i in aws_api_gateway_integration.route : i.id],
      data.aws_iam_policy_document.portal.json,
    ]))
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
}

resource "aws_api_gateway_method_settings" "portal" {
  #checkov:skip=CKV_AWS_225:Responses are per-caller credentials and decisions; caching them would hand one caller's answer to another.
  rest_api_id = aws_api_gateway_rest_api.portal.id
  stage_name  = aws_api_gateway_stage.portal.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = "INFO"
    data_trace_enabled     = false
    throttling_rate_limit  = 20
    throttling_burst_limit = 40
  }
}
