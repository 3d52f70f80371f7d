variable "name" {
  description = "Name prefix of the network's resources."
  type        = string
}

variable "account_id" {
  description = "AWS account id that administers the flow-log KMS key."
  type        = string
}

variable "partition" {
  description = "AWS partition."
  type        = string
  default     = "aws"
}

variable "region" {
  description = "Region (for the VPC endpoint service names and the logs key policy)."
  type        = string
}

variable "cidr" {
  description = "VPC CIDR; split into one public and one private subnet per AZ."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && tonumber(split("/", var.cidr)[1]) <= 20
    error_message = "cidr must be an IPv4 CIDR block of /20 or larger."
  }
}

variable "azs" {
  description = "Availability zones (passed in, not looked up, so plans work offline); EKS needs at least two."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2 && length(var.azs) <= 4 && length(distinct(var.azs)) == length(var.azs)
    error_message = "Give 2 to 4 distinct availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper, one AZ's outage cuts egress) instead of one per AZ."
  type        = bool
  default     = true
}

variable "cluster_name" {
  description = "EKS cluster name, for the subnet discovery tags of the load balancer controller."
  type        = string
}

variable "flow_log_retention_days" {
  description = "Days VPC flow logs are kept."
  type        = number
  default     = 365
}

variable "permissions_boundary" {
  description = "Permissions boundary ARN put on this module's IAM roles (the workload boundary from modules/github_oidc); null for none."
  type        = string
  default     = null
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints (each costs per AZ-hour); the pods' network policy allows HTTPS to the VPC for them."
  type        = list(string)
  default     = ["kinesis-streams", "sts", "sagemaker.runtime"]
}
