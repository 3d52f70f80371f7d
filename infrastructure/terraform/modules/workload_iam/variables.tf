variable "name" {
  description = "Prefix of the role names (the platform's name)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the service accounts."
  type        = string
  default     = "fraudstream"
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider."
  type        = string
}

variable "oidc_issuer" {
  description = "Cluster OIDC issuer without https://."
  type        = string
}

variable "stream_arns" {
  description = "ARNs of the transactions and labels streams."
  type        = list(string)
}

variable "streams_kms_key_arn" {
  description = "Key of the streams."
  type        = string
}

variable "lake_bucket_arn" {
  description = "ARN of the lake bucket."
  type        = string
}

variable "lake_kms_key_arn" {
  description = "Key of the lake bucket."
  type        = string
}

variable "lake_prefixes" {
  description = "Key prefixes the processor reads and writes (tables and checkpoints), each ending in '/'."
  type        = list(string)

  validation {
    condition     = alltrue([for p in var.lake_prefixes : endswith(p, "/") && p != "/"])
    error_message = "Each prefix must end with '/' and must not be the bucket root."
  }
}

variable "lake_table_prefixes" {
  description = "Key prefixes of the lake's tables (compaction rewrites and deletes files there only), each ending in '/'."
  type        = list(string)

  validation {
    condition     = alltrue([for p in var.lake_table_prefixes : endswith(p, "/") && p != "/"])
    error_message = "Each prefix must end with '/' and must not be the bucket root."
  }
}

variable "model_prefix" {
  description = "Key prefix of model artefacts (model deploy writes here, SageMaker reads)."
  type        = string
  default     = "models/"
}

variable "retrain_table_prefixes" {
  description = "Key prefixes of the tables retraining reads (transactions, labels), each ending in '/'."
  type        = list(string)

  validation {
    condition     = alltrue([for p in var.retrain_table_prefixes : endswith(p, "/") && p != "/"])
    error_message = "Each prefix must end with '/' and must not be the bucket root."
  }
}

variable "champion_prefix" {
  description = "Key prefix of the champion model's folder, which retraining must beat (read only)."
  type        = string
  default     = "models/champion/"

  validation {
    condition     = endswith(var.champion_prefix, "/") && startswith(var.champion_prefix, "models/")
    error_message = "The champion's folder is a prefix under models/ ending in '/'."
  }
}

variable "challenger_prefix" {
  description = "Key prefix of the challenger model's folder, the only place retraining writes."
  type        = string
  default     = "models/challenger/"

  validation {
    condition     = endswith(var.challenger_prefix, "/") && startswith(var.challenger_prefix, "models/") && var.challenger_prefix != "models/"
    error_message = "The challenger's folder is a prefix under models/ ending in '/'."
  }
}

variable "alerts_table_arn" {
  description = "ARN of the alerts table."
  type        = string
}

variable "alerts_recent_index_arn" {
  description = "ARN of the alerts table's recent-by-decision index (the notifier queries it)."
  type        = string
}

variable "alerts_kms_key_arn" {
  description = "Key of the alerts table (DynamoDB uses it on the caller's behalf)."
  type        = string
}

variable "endpoint_arn" {
  description = "ARN of the SageMaker endpoint the processor invokes."
  type        = string
}

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint (model deploy updates it)."
  type        = string
}

variable "sagemaker_execution_role_arn" {
  description = "Role SageMaker assumes for the endpoint (model deploy passes it)."
  type        = string
}

variable "account_id" {
  description = "AWS account id (for SageMaker ARNs)."
  type        = string
}

variable "region" {
  description = "Region (for SageMaker ARNs)."
  type        = string
}

variable "partition" {
  description = "AWS partition."
  type        = string
  default     = "aws"
}

variable "permissions_boundary" {
  description = "Permissions boundary ARN put on this module's IAM roles (the workload boundary from modules/github_oidc); null for none."
  type        = string
  default     = null
}

variable "model_metrics_namespace" {
  description = "The one CloudWatch namespace the processor may put model-monitoring metrics into."
  type        = string
  default     = "Fraudstream/Model"
}
