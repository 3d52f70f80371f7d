variable "name" {
  description = "Prefix of the KMS alias (the platform's name)."
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

variable "table_name" {
  description = "Name of the alerts table (FRAUDSTREAM_ALERTS_TABLE)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be 3-255 letters, digits, '_', '.' or '-'."
  }
}

# The key layout is the contract in fraudstream/stack/resources.py; a test compares the two.
variable "hash_key" {
  description = "Partition key: the card token, so one card's alerts live together."
  type        = string
  default     = "card_id"
}

variable "range_key" {
  description = "Sort key: '<event_time>#<transaction_id>', so a replayed decision overwrites the same item."
  type        = string
  default     = "alert_key"
}

variable "recent_index_name" {
  description = "Global secondary index of the latest alerts per decision (the live view)."
  type        = string
  default     = "recent-by-decision"
}

variable "recent_index_hash_key" {
  description = "Partition key of the latest-alerts index: the decision (review or block)."
  type        = string
  default     = "decision"
}

variable "ttl_attribute" {
  description = "Epoch-seconds attribute after which DynamoDB deletes an alert."
  type        = string
  default     = "expires_at"
}

variable "deletion_protection" {
  description = "Refuse DeleteTable (on for real environments)."
  type        = bool
  default     = true
}

variable "kms_deletion_window_days" {
  description = "Days a scheduled KMS key deletion can be cancelled."
  type        = number
  default     = 30
}
