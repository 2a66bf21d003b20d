# Self-service API (optional): REST API with IAM authorization on every method and a resource
# policy limiting callers to api_allowed_cidrs. POST /requests → access-request;
# POST /approvals → approval-processor (approver decisions with the workflow's task token).

locals {
  api_routes = var.enable_self_service_portal ? {
    requests  = module.access_request[0].function_arn
    approvals = module.approval_processor[0].function_arn
  } : {}
}

resource "aws_api_gateway_rest_api" "portal" {
  count       = var.enable_self_service_portal ? 1 : 0
  name        = "${local.name}-portal"
  description = "Warden self-service access requests"
  endpoint_configuration {
    types = ["REGIONAL"]
  }
}

data "aws_iam_policy_document" "portal" {
  count = var.enable_self_service_portal ? 1 : 0
  statement {
    sid       = "AllowIamCallersFromAllowedNetworks"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_api_gateway_rest_api.portal[0].execution_arn}/*"]
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
  count       = var.enable_self_service_portal ? 1 : 0
  rest_api_id = aws_api_gateway_rest_api.portal[0].id
  policy      = data.aws_iam_policy_document.portal[0].json
}

resource "aws_api_gateway_resource" "route" {
  for_each    = local.api_routes
  rest_api_id = aws_api_gateway_rest_api.portal[0].id
  parent_id   = aws_api_gateway_rest_api.portal[0].root_resource_id
  path_part   = each.key
}

# API Gateway checks a JSON body is present; the functions validate every field and answer with
# an error naming the field and the rule.
resource "aws_api_gateway_request_validator" "portal" {
  count                       = var.enable_self_service_portal ? 1 : 0
  name                        = "body-and-parameters"
  rest_api_id                 = aws_api_gateway_rest_api.portal[0].id
  validate_request_body       = true
  validate_request_parameters = true
}

resource "aws_api_gateway_method" "route" {
  for_each             = local.api_routes
  rest_api_id          = aws_api_gateway_rest_api.portal[0].id
  resource_id          = aws_api_gateway_resource.route[each.key].id
  http_method          = "POST"
  authorization        = "AWS_IAM"
  request_validator_id = aws_api_gateway_request_validator.portal[0].id
  request_models       = { "application/json" = "Empty" }
}

resource "aws_api_gateway_integration" "route" {
  for_each                = local.api_routes
  rest_api_id             = aws_api_gateway_rest_api.portal[0].id
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
  source_arn    = "${aws_api_gateway_rest_api.portal[0].execution_arn}/*/POST/${each.key}"
}

resource "aws_api_gateway_deployment" "portal" {
  count       = var.enable_self_service_portal ? 1 : 0
  rest_api_id = aws_api_gateway_rest_api.portal[0].id

  triggers = {
    redeploy = sha1(jsonencode([
      [for k, r in aws_api_gateway_resource.route : r.id],
      [for k, m in aws_api_gateway_method.route : m.id],
      [for k, i in aws_api_gateway_integration.route : i.id],
      data.aws_iam_policy_document.portal[0].json,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "portal" {
  count             = var.enable_self_service_portal ? 1 : 0
  name              = "/aws/apigateway/${local.name}-portal"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.data.arn
}

resource "aws_api_gateway_stage" "portal" {
  #checkov:skip=CKV_AWS_120:Responses are per-caller authorization decisions; caching them would be wrong.
  #checkov:skip=CKV2_AWS_29:Every method requires SigV4 (IAM) and the resource policy limits source networks; attach an organization WAF ACL where one exists.
  #checkov:skip=CKV2_AWS_51:IAM (SigV4) authentication is required on every method; mutual TLS would need a custom domain.
  count                = var.enable_self_service_portal ? 1 : 0
  rest_api_id          = aws_api_gateway_rest_api.portal[0].id
  deployment_id        = aws_api_gateway_deployment.portal[0].id
  stage_name           = var.environment
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.portal[0].arn
    format = jsonencode({
      requestId = "$context.requestId", caller = "$context.identity.caller", user = "$context.identity.userArn"
      ip        = "$context.identity.sourceIp", path = "$context.resourcePath", status = "$context.status"
      time      = "$context.requestTime"
    })
  }
}

resource "aws_api_gateway_method_settings" "portal" {
  count       = var.enable_self_service_portal ? 1 : 0
  rest_api_id = aws_api_gateway_rest_api.portal[0].id
  stage_name  = aws_api_gateway_stage.portal[0].stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = "INFO"
    data_trace_enabled     = false
    throttling_rate_limit  = 20
    throttling_burst_limit = 40
  }
}
