# Cross-account roles live in the consumer accounts (consumer-role/, applied once per account
# before this stack: bucket and key policies reject principals that do not exist yet).
# This stack only needs their ARNs, which are deterministic: no cross-state lookups.

# One registry of the consumer-side roles, for outputs and for the functions that use them:
# access-validator assumes the consumer role to vend credentials (session policy cut down to the
# granted prefix and level); governance-check assumes the read-only governance role.
resource "aws_ssm_parameter" "consumer_roles" {
  name        = "/${var.project_name}/${var.environment}/consumer-roles"
  description = "Consumer and governance role ARNs per consumer account (written by Terraform)."
  type        = "SecureString"
  key_id      = aws_kms_key.data.arn
  value = jsonencode({
    for id, a in local.consumers : id => {
      name            = a.name
      consumer_role   = local.consumer_role_arns[id]
      governance_role = local.governance_role_arns[id]
      owner_email     = a.owner_email
      external_id     = a.external_id
    }
  })
}
