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

output "ci_boundary_arn" {
  description = "Permissions boundary of the CI roles."
  value       = aws_iam_policy.ci_boundary.arn
}

output "workload_boundary_arn" {
  description = "Permissions boundary every platform role must carry (the deploy role can only create or change roles that do)."
  value       = aws_iam_policy.workload_boundary.arn
}
