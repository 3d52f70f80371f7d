variable "name" {
  description = "Prefix of alarm names (the platform's name)."
  type        = string
}

variable "account_id" {
  description = "AWS account id that administers the topic's KMS key."
  type        = string
}

variable "partition" {
  description = "AWS partition."
  type        = string
  default     = "aws"
}

variable "stream_names" {
  description = "Streams to watch."
  type        = list(string)
}

variable "consumed_stream" {
  description = "Stream whose iterator age measures the processor's lag."
  type        = string
}

variable "iterator_age_ms" {
  description = "Alarm when the oldest unread record is older than this (milliseconds)."
  type        = number
  default     = 60000

  validation {
    condition     = var.iterator_age_ms >= 1000
    error_message = "iterator_age_ms must be at least 1000."
  }
}

variable "endpoint_name" {
  description = "SageMaker endpoint to watch."
  type        = string
}

variable "variant_name" {
  description = "Production variant of the endpoint."
  type        = string
}

variable "endpoint_error_threshold" {
  description = "Alarm when the endpoint returns more 5XX errors than this in 5 minutes."
  type        = number
  default     = 5
}

variable "alerts_table" {
  description = "DynamoDB alerts table to watch for throttling."
  type        = string
}

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (each must confirm by e-mail)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_emails must be e-mail addresses."
  }
}

variable "model_metrics_namespace" {
  description = "CloudWatch namespace the processor publishes model-monitoring figures to (FRAUDSTREAM_MODEL_METRICS_NAMESPACE)."
  type        = string
  default     = "Fraudstream/Model"
}

variable "score_psi_threshold" {
  description = "Population stability index of the score (and of a top feature) above which the drift alarms fire."
  type        = number
  default     = 0.25
}

variable "recall_ratio_threshold" {
  description = "Recall on labelled frauds, as a share of the model's validation recall, below which the recall alarm fires."
  type        = number
  default     = 0.8
}
