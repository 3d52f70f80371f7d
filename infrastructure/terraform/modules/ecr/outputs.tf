output "repository_urls" {
  description = "Image name => repository URL (push target)."
  value       = { for image, repo in aws_ecr_repository.this : image => repo.repository_url }
}

output "repository_arns" {
  description = "Image name => repository ARN."
  value       = { for image, repo in aws_ecr_repository.this : image => repo.arn }
}

output "kms_key_arn" {
  description = "Key that encrypts the images (pullers need kms:Decrypt through ECR)."
  value       = aws_kms_key.ecr.arn
}
