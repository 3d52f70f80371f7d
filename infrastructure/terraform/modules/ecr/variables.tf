variable "name" {
  description = "Prefix of the repositories and KMS alias (the platform's name)."
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

variable "repositories" {
  description = "Image names; each becomes the repository <name>/<image>."
  type        = set(string)
  default     = ["processor", "producer", "model-server"]
}

variable "keep_images" {
  description = "Tagged images kept per repository (older ones expire)."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_images >= 5
    error_message = "Keep at least 5 images so a rollback has somewhere to go."
  }
}

variable "untagged_days" {
  description = "Days an untagged image (a superseded build layer) is kept."
  type        = number
  default     = 7
}
