variable "name" {
  description = "Cluster name (and prefix of its IAM roles)."
  type        = string
}

variable "account_id" {
  description = "AWS account id that administers the KMS keys."
  type        = string
}

variable "partition" {
  description = "AWS partition."
  type        = string
  default     = "aws"
}

variable "region" {
  description = "Region (for the logs key policy)."
  type        = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version (major.minor)."
  type        = string
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.(2[89]|3[0-9])$", var.kubernetes_version))
    error_message = "kubernetes_version must be 1.28 or later, as major.minor (e.g. 1.33)."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the control plane ENIs and the nodes."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "EKS needs subnets in at least two availability zones."
  }
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to reach the public API endpoint; empty makes the endpoint private only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "public_access_cidrs must be CIDR blocks, and not 0.0.0.0/0."
  }
}

variable "admin_principals" {
  description = "IAM principals given cluster-admin through EKS access entries: a static label => principal ARN."
  type        = map(string)
  default     = {}
}

variable "node_instance_types" {
  description = "Instance types of the managed node group (Spark executors want memory: r/m families)."
  type        = list(string)
  default     = ["m6i.xlarge"]
}

variable "node_capacity_type" {
  description = "ON_DEMAND or SPOT (Spark survives executor loss; the driver should not be on spot)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.node_capacity_type)
    error_message = "node_capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "node_min" {
  description = "Fewest nodes."
  type        = number
  default     = 2
}

variable "node_desired" {
  description = "Nodes at creation (the cluster autoscaler, if installed, owns it afterwards)."
  type        = number
  default     = 3
}

variable "node_max" {
  description = "Most nodes."
  type        = number
  default     = 6
}

variable "node_disk_gib" {
  description = "Root volume size of a node (Spark shuffle and image layers live here)."
  type        = number
  default     = 100
}

variable "log_retention_days" {
  description = "Days control-plane logs are kept."
  type        = number
  default     = 365
}

variable "permissions_boundary" {
  description = "Permissions boundary ARN put on this module's IAM roles (the workload boundary from modules/github_oidc); null for none."
  type        = string
  default     = null
}
