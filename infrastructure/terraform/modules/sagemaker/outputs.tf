output "endpoint_name" {
  description = "Endpoint name."
  value       = aws_sagemaker_endpoint.this.name
}

output "endpoint_arn" {
  description = "Endpoint ARN."
  value       = aws_sagemaker_endpoint.this.arn
}

output "variant_name" {
  description = "Production variant name."
  value       = local.variant
}

output "execution_role_arn" {
  description = "Role SageMaker assumes for the endpoint."
  value       = aws_iam_role.execution.arn
}

output "execution_policy" {
  description = "Policy document of the execution role."
  value       = jsondecode(aws_iam_role_policy.execution.policy)
}
