variable "endpoint" {
  description = "The local AWS endpoint: `fraudstream stack up`'s emulator or LocalStack (AWS_ENDPOINT_URL)."
  type        = string
  default     = "http://127.0.0.1:4566"

  validation {
    condition     = can(regex("^https?://[^/\\s]+$", var.endpoint))
    error_message = "endpoint must be an http(s) URL with no path, e.g. http://127.0.0.1:4566."
  }
}

variable "region" {
  description = "Region the emulator pretends to be (FRAUDSTREAM_REGION)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-\\d$", var.region))
    error_message = "region must look like us-east-1."
  }
}

# Defaults are fraudstream.settings.Settings' defaults; a test checks they agree.
variable "stream_name" {
  description = "Transactions stream (FRAUDSTREAM_STREAM_NAME)."
  type        = string
  default     = "transactions"
}

variable "stream_shards" {
  description = "Shards of the transactions stream (FRAUDSTREAM_STREAM_SHARDS)."
  type        = number
  default     = 4
}

variable "labels_stream_name" {
  description = "Labels stream (FRAUDSTREAM_LABELS_STREAM_NAME)."
  type        = string
  default     = "transaction-labels"
}

variable "labels_stream_shards" {
  description = "Shards of the labels stream (FRAUDSTREAM_LABELS_STREAM_SHARDS)."
  type        = number
  default     = 3
}

variable "bucket" {
  description = "Lake bucket (FRAUDSTREAM_BUCKET)."
  type        = string
  default     = "fraudstream-lake"
}

variable "alerts_table" {
  description = "Alerts table (FRAUDSTREAM_ALERTS_TABLE)."
  type        = string
  default     = "fraud-alerts"
}

variable "athena_named_queries" {
  description = "Create the Athena named queries; off by default because moto cannot delete them (no DeleteNamedQuery), so `terraform destroy` would fail."
  type        = bool
  default     = false
}
