output "role_arns" {
  description = "ci-build / ci-plan / ci-deploy => role ARN (GitHub repository variables of the CD workflow)."
  value       = { for name, role in aws_iam_role.this : name => role.arn }
}

output "deploy_role_arn" {
  description = "The deploy role (given cluster-admin on EKS)."
  value       = aws_iam_role.this["ci-deploy"].arn
}

output "trust_subjects" {
  description = "Role => the GitHub OIDC subject it trusts."
  value       = { for name, role in aws_iam_role.this : name => jsondecode(role.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] }
}
