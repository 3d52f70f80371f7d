variable "name" {
  description = "Prefix of KMS aliases (the platform's name)."
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

variable "bucket" {
  description = "Name of the lake bucket (Parquet tables, Spark checkpoints, model artefacts, Athena results)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket)) && !strcontains(var.bucket, "..")
    error_message = "bucket must be a valid S3 bucket name (3-63 lowercase letters, digits, '.' or '-')."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete a bucket that still holds objects (local emulator only)."
  type        = bool
  default     = false
}

variable "lake_tables_file" {
  description = "Path of fraudstream/lake_tables.json, the one definition of the lake's tables."
  type        = string
}

variable "queries_dir" {
  description = "Folder of *.sql files that become Athena named queries (the first `-- ` line is the description)."
  type        = string
}

variable "named_queries_enabled" {
  description = "Create the Athena named queries from queries_dir."
  type        = bool
  default     = true
}

variable "athena_workgroup" {
  description = "Name of the Athena workgroup."
  type        = string
  default     = "fraudstream"
}

variable "athena_bytes_scanned_cutoff" {
  description = "Athena cancels a query that scans more than this many bytes (cost guard; at least 10 MB)."
  type        = number
  default     = 10737418240 # 10 GiB = about 0.05 USD per query at 5 USD/TB

  validation {
    condition     = var.athena_bytes_scanned_cutoff >= 10485760
    error_message = "athena_bytes_scanned_cutoff must be at least 10485760 (10 MB), Athena's minimum."
  }
}

variable "lifecycle_enabled" {
  description = "Manage the bucket's lifecycle rules (off on the emulator, which has no storage classes)."
  type        = bool
  default     = true
}

variable "infrequent_access_after_days" {
  description = "Days after which table data moves to S3 Standard-IA."
  type        = number
  default     = 30

  validation {
    condition     = var.infrequent_access_after_days >= 30
    error_message = "S3 requires at least 30 days before a transition to STANDARD_IA."
  }
}

variable "glacier_after_days" {
  description = "Days after which table data moves to Glacier Instant Retrieval (still queryable by Athena)."
  type        = number
  default     = 180
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object version is kept (checkpoint files churn, so keep this short)."
  type        = number
  default     = 7
}

variable "athena_results_days" {
  description = "Days Athena query results are kept."
  type        = number
  default     = 14
}

variable "kms_deletion_window_days" {
  description = "Days a scheduled KMS key deletion can be cancelled."
  type        = number
  default     = 30
}
