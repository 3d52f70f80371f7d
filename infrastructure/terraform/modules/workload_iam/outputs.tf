output "role_arns" {
  description = "Service account name => IAM role ARN (for the eks.amazonaws.com/role-arn annotation)."
  value       = { for sa, role in aws_iam_role.this : sa => role.arn }
}

output "policies" {
  description = "Service account name => policy document (for tests and reviews)."
  value       = { for sa, policy in aws_iam_role_policy.this : sa => jsondecode(policy.policy) }
}

output "trust_subjects" {
  description = "Service account name => the only Kubernetes subject its role trusts."
  value = {
    for sa, role in aws_iam_role.this :
    sa => jsondecode(role.assume_role_policy).Statement[0].Condition.StringEquals["${var.oidc_issuer}:sub"]
  }
}
