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
  description = "Streams to create: name => shard count (ignored in ON_DEMAND mode). Per shard: 1 MiB/s and 1,000 records/s in, 2 MiB/s and 5 reads/s out. With KPL aggregation bytes decide: ceil(peak bytes/s / (0.75 x 1 MiB)); give a multiple of the processor cell count so each cell owns whole shards."
  type        = map(number)

  validation {
    condition     = length(var.streams) > 0 && alltrue([for n in values(var.streams) : n >= 1 && n <= 500 && floor(n) == n])
    error_message = "Give at least one stream, each with a whole number of shards between 1 and 500."
  }
}

variable "stream_mode" {
  description = "PROVISIONED (fixed shards at ~11 USD/month each, cheapest at steady load) or ON_DEMAND (0.08 USD/GB in and 0.04 out, starts at 4 MB/s and scales itself; for unknown or spiky load)."
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
