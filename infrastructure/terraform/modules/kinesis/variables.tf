variable "name" {
  description = "Prefix of the KMS alias (the platform's name)."
  type        = string
}

variable "account_id" {
  description = "AWS account id that administers the KMS key."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
  default     = "aws"
}

variable "streams" {
  description = "Streams to create: name => shard count (the count is ignored in ON_DEMAND mode)."
  type        = map(number)

  validation {
    condition     = length(var.streams) > 0 && alltrue([for n in values(var.streams) : n >= 1 && n <= 500 && floor(n) == n])
    error_message = "Give at least one stream, each with a whole number of shards between 1 and 500."
  }
}

variable "stream_mode" {
  description = "PROVISIONED (fixed shards, cheapest at steady load) or ON_DEMAND (pay per GB, scales itself)."
  type        = string
  default     = "PROVISIONED"

  validation {
    condition     = contains(["PROVISIONED", "ON_DEMAND"], var.stream_mode)
    error_message = "stream_mode must be PROVISIONED or ON_DEMAND."
  }
}

variable "retention_hours" {
  description = "How long records stay readable (24 to 8760 hours); the job can replay this far back."
  type        = number
  default     = 24

  validation {
    condition     = var.retention_hours >= 24 && var.retention_hours <= 8760
    error_message = "retention_hours must be between 24 and 8760."
  }
}

variable "shard_level_metrics" {
  description = "Enhanced per-shard CloudWatch metrics (cost extra); iterator age is a stream metric and needs none."
  type        = list(string)
  default     = []
}

variable "kms_key_id" {
  description = "Existing key (ARN or alias) to encrypt the streams with; null creates a customer key."
  type        = string
  default     = null
}

variable "kms_deletion_window_days" {
  description = "Days a scheduled KMS key deletion can be cancelled."
  type        = number
  default     = 30
}
