variable "region" {
  description = "AWS region of every resource (FRAUDSTREAM_REGION)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-\\d$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "environment" {
  description = "Environment name, used in tags."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.environment))
    error_message = "environment must be 2-21 lowercase letters, digits or '-'."
  }
}

variable "name" {
  description = "Platform name: prefix of IAM roles, KMS aliases, ECR repositories and the EKS cluster."
  type        = string
  default     = "fraudstream"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.name))
    error_message = "name must be 3-21 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "azs" {
  description = "Availability zones (given, not looked up, so plans run offline)."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]

  validation {
    condition     = length(var.azs) >= 2
    error_message = "Give at least two availability zones."
  }
}

variable "vpc_cidr" {
  description = "VPC CIDR block."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per AZ (saves ~65 USD/month per AZ)."
  type        = bool
  default     = true
}

# --- Data plane (names default to fraudstream.settings.Settings) -------------------------------------

variable "stream_name" {
  description = "Transactions stream (FRAUDSTREAM_STREAM_NAME)."
  type        = string
  default     = "transactions"
}

variable "stream_shards" {
  description = "Shards of the transactions stream in PROVISIONED mode. A shard takes 1 MiB/s and 1,000 records/s in, 11 USD/month. The producer KPL-aggregates, so bytes decide: ceil(peak events/s x 260 B / (0.75 x 1 MiB)); 4 carry 10,000 events/s (docs/deploy.md, Sizing Kinesis)."
  type        = number
  default     = 4

  validation {
    condition     = var.stream_shards >= 1 && var.stream_shards <= 500
    error_message = "stream_shards must be between 1 and 500."
  }
}

variable "processor_cells" {
  description = "Spark applications the processor runs as, each owning an equal share of the streams' hash-key space (FRAUDSTREAM_HASH_RANGE=i/n): about 5,000 events/s per cell at half a driver's ceiling, so ceil(peak events/s / 5,000). Keep stream_shards a multiple of it. Changing it starts new checkpoints with empty state (docs/deploy.md, Cells)."
  type        = number
  default     = 1

  validation {
    condition     = var.processor_cells >= 1 && var.processor_cells <= 256 && floor(var.processor_cells) == var.processor_cells
    error_message = "processor_cells must be a whole number between 1 and 256."
  }
}

variable "labels_stream_name" {
  description = "Labels stream (FRAUDSTREAM_LABELS_STREAM_NAME)."
  type        = string
  default     = "transaction-labels"
}

variable "labels_stream_shards" {
  description = "Shards of the labels stream: ceil(peak events/s x 220 B / (0.75 x 1 MiB)) with KPL aggregation; 1 carries ~3,500 labels/s, 3 carry 10,000 (the 4 transaction shards' rate)."
  type        = number
  default     = 3

  validation {
    condition     = var.labels_stream_shards >= 1 && var.labels_stream_shards <= 500
    error_message = "labels_stream_shards must be between 1 and 500."
  }
}

variable "stream_mode" {
  description = "PROVISIONED (shards above; ~85 USD/month for 10,000 events/s) or ON_DEMAND (0.08 USD/GB in, 0.04 out, 29 USD/month per stream; ~1,500 USD/month at a steady 10,000 events/s, for unknown or spiky traffic)."
  type        = string
  default     = "PROVISIONED"
}

variable "stream_retention_hours" {
  description = "Hours Kinesis keeps records (the window for replays after an outage)."
  type        = number
  default     = 48
}

variable "bucket" {
  description = "Lake bucket (FRAUDSTREAM_BUCKET); bucket names are global, so add your account id or a suffix."
  type        = string
}

variable "alerts_table" {
  description = "Alerts table (FRAUDSTREAM_ALERTS_TABLE)."
  type        = string
  default     = "fraud-alerts"
}

# --- Model --------------------------------------------------------------------------------------------

variable "sagemaker_endpoint" {
  description = "SageMaker endpoint name (FRAUDSTREAM_SAGEMAKER_ENDPOINT)."
  type        = string
  default     = "fraudstream-xgboost"
}

variable "model_image_tag" {
  description = "Tag of the model-server image in ECR (CD passes the git SHA)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.model_image_tag)) && var.model_image_tag != "latest"
    error_message = "model_image_tag must be a valid, immutable image tag (not latest)."
  }
}

variable "model_data_url" {
  description = "s3:// URL of the first model.tar.gz (under <bucket>/models/)."
  type        = string
}

variable "sagemaker_instance_type" {
  description = "Endpoint instance type."
  type        = string
  default     = "ml.m5.large"
}

variable "sagemaker_min_instances" {
  description = "Fewest endpoint instances."
  type        = number
  default     = 2
}

variable "sagemaker_max_instances" {
  description = "Most endpoint instances."
  type        = number
  default     = 4
}

# --- EKS ----------------------------------------------------------------------------------------------

variable "kubernetes_version" {
  description = "EKS version."
  type        = string
  default     = "1.33"
}

variable "cluster_public_access_cidrs" {
  description = "CIDRs that may reach the EKS API from the internet (operators, CI runners); empty = private only."
  type        = list(string)
  default     = []
}

variable "cluster_admin_arns" {
  description = "Extra IAM principals given cluster-admin (the CD deploy role always is)."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "Instance types of the node group."
  type        = list(string)
  default     = ["m6i.xlarge"]
}

variable "node_min" {
  description = "Fewest nodes."
  type        = number
  default     = 2
}

variable "node_desired" {
  description = "Nodes at creation."
  type        = number
  default     = 3
}

variable "node_max" {
  description = "Most nodes."
  type        = number
  default     = 6
}


# --- CI/CD and alarms ---------------------------------------------------------------------------------

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows deploy."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (false if one exists)."
  type        = bool
  default     = true
}

variable "state_bucket" {
  description = "Bucket of the Terraform state (same as in backend.hcl)."
  type        = string
}

variable "alarm_emails" {
  description = "E-mail addresses for CloudWatch alarms."
  type        = list(string)
  default     = []
}

variable "iterator_age_alarm_ms" {
  description = "Processor lag (ms) that raises an alarm."
  type        = number
  default     = 60000
}

variable "model_metrics_namespace" {
  description = "CloudWatch namespace of the processor's model-monitoring metrics (FRAUDSTREAM_MODEL_METRICS_NAMESPACE), watched by the model alarms."
  type        = string
  default     = "Fraudstream/Model"
}
