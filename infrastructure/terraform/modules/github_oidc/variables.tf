variable "name" {
  description = "Prefix of the role names (the platform's name)."
  type        = string
}

variable "account_id" {
  description = "AWS account id."
  type        = string
}

variable "partition" {
  description = "AWS partition."
  type        = string
  default     = "aws"
}

variable "repository" {
  description = "GitHub repository (owner/name) whose workflows may assume the roles."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.repository))
    error_message = "repository must be owner/name."
  }
}

variable "deploy_environment" {
  description = "GitHub environment (with required reviewers) whose jobs may assume the deploy role."
  type        = string
  default     = "production"
}

variable "ecr_repository_arns" {
  description = "Repositories the build role pushes to."
  type        = list(string)
}

variable "state_bucket" {
  description = "S3 bucket of the Terraform state (plan reads it and takes the lock)."
  type        = string
}

variable "state_key_prefix" {
  description = "Key prefix of the state objects."
  type        = string
  default     = "fraudstream/"
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (false when another stack already did)."
  type        = bool
  default     = true
}

variable "region" {
  description = "Region of the EKS clusters whose IRSA OIDC providers the deploy role manages."
  type        = string
}
