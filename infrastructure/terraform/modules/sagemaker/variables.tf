variable "name" {
  description = "Prefix of IAM and KMS names (the platform's name)."
  type        = string
}

variable "account_id" {
  description = "AWS account id that administers the KMS key."
  type        = string
}

variable "partition" {
  description = "AWS partition."
  type        = string
  default     = "aws"
}

variable "region" {
  description = "Region of the endpoint."
  type        = string
}

variable "endpoint_name" {
  description = "SageMaker endpoint name (FRAUDSTREAM_SAGEMAKER_ENDPOINT)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be 1-63 letters, digits or '-', not starting or ending with '-'."
  }
}

variable "image" {
  description = "Model server image (ECR URI with tag) implementing the SageMaker container contract."
  type        = string
}

variable "model_data_url" {
  description = "s3:// URL of the first model.tar.gz; later versions roll out through the model deploy script."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9.-]+/.+\\.tar\\.gz$", var.model_data_url))
    error_message = "model_data_url must be an s3:// URL of a .tar.gz file."
  }
}

variable "lake_bucket_arn" {
  description = "Lake bucket (model artefacts under models/, data capture under data-capture/)."
  type        = string
}

variable "lake_kms_key_arn" {
  description = "Key of the lake bucket."
  type        = string
}

variable "model_repository_arn" {
  description = "ECR repository of the model server image."
  type        = string
}

variable "ecr_kms_key_arn" {
  description = "Key of the ECR repositories."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the endpoint's network interfaces."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC (its interface endpoints are the endpoint's only HTTPS peers besides S3)."
  type        = string
}

variable "s3_prefix_list_id" {
  description = "Prefix list of S3 in the region (the gateway endpoint the model artefacts come through)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the endpoint."
  type        = list(string)
}

variable "instance_type" {
  description = "Instance type of the endpoint."
  type        = string
  default     = "ml.m5.large"

  validation {
    condition     = startswith(var.instance_type, "ml.")
    error_message = "instance_type must be a SageMaker instance type (ml.*)."
  }
}

variable "min_instances" {
  description = "Fewest endpoint instances (2 spreads across AZs)."
  type        = number
  default     = 2
}

variable "max_instances" {
  description = "Most endpoint instances."
  type        = number
  default     = 4
}

variable "invocations_per_instance" {
  description = "Target invocations per instance per minute for autoscaling."
  type        = number
  default     = 6000
}

variable "capture_percent" {
  description = "Share of requests whose input and output SageMaker records to S3 for drift monitoring."
  type        = number
  default     = 10

  validation {
    condition     = var.capture_percent >= 0 && var.capture_percent <= 100
    error_message = "capture_percent must be between 0 and 100."
  }
}

variable "permissions_boundary" {
  description = "Permissions boundary ARN put on this module's IAM roles (the workload boundary from modules/github_oidc); null for none."
  type        = string
  default     = null
}
