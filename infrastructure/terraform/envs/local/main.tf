# The data plane only (streams, lake + Glue + Athena, alerts table) against a local emulator:
# the same names and keys `fraudstream stack up` creates, so either can set up a laptop.
#
#   fraudstream stack up            # or LocalStack; then
#   terraform init && terraform apply -var endpoint=$AWS_ENDPOINT_URL

provider "aws" {
  region                      = var.region
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false
  s3_use_path_style           = true
  # A few retries: the emulator's HTTP server sometimes drops a keep-alive connection under load.
  max_retries = 3

  endpoints {
    athena   = var.endpoint
    dynamodb = var.endpoint
    glue     = var.endpoint
    iam      = var.endpoint
    kinesis  = var.endpoint
    kms      = var.endpoint
    s3       = var.endpoint
    sts      = var.endpoint
  }

  default_tags {
    tags = { project = "fraudstream", environment = "local" }
  }
}

data "aws_caller_identity" "current" {}

locals {
  repo_root  = "${path.module}/../../../.."
  account_id = data.aws_caller_identity.current.account_id
}

module "kinesis" {
  source = "../../modules/kinesis"

  name                     = "fraudstream"
  account_id               = local.account_id
  streams                  = { (var.stream_name) = var.stream_shards, (var.labels_stream_name) = var.labels_stream_shards }
  kms_deletion_window_days = 7
  # The AWS-managed key: no customer key to create first (the provider waits ~12 s for a new key).
  kms_key_id = "alias/aws/kinesis"
}

module "lake" {
  source = "../../modules/lake"

  name          = "fraudstream"
  account_id    = local.account_id
  bucket        = var.bucket
  force_destroy = true
  # The emulator has no storage classes, and the provider waits ~55 s for lifecycle consistency.
  lifecycle_enabled        = false
  lake_tables_file         = "${local.repo_root}/fraudstream/lake_tables.json"
  queries_dir              = "${local.repo_root}/fraudstream/lake/queries"
  kms_deletion_window_days = 7
}

module "alerts" {
  source = "../../modules/dynamodb"

  name                     = "fraudstream"
  account_id               = local.account_id
  table_name               = var.alerts_table
  deletion_protection      = false
  kms_deletion_window_days = 7
}
