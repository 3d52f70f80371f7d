# The whole platform on AWS. Apply order is resolved by references; the first apply is made by
# an administrator (docs/deploy.md), later ones by the CD workflow's ci-deploy role.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "fraudstream"
      environment = var.environment
      managed-by  = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  repo_root  = "${path.module}/../../../.."
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  lake       = jsondecode(file("${local.repo_root}/fraudstream/lake_tables.json"))

  # What the processor reads and writes in the lake: every table's prefix, plus checkpoints.
  processor_prefixes = concat([for t in local.lake.tables : t.prefix], ["checkpoints/"])
}

module "network" {
  source = "../../modules/network"

  name               = var.name
  account_id         = local.account_id
  partition          = local.partition
  region             = var.region
  cidr               = var.vpc_cidr
  azs                = var.azs
  single_nat_gateway = var.single_nat_gateway
  cluster_name       = var.name

  # Roles the deploy role may create or change must carry the workload boundary (github_oidc).
  permissions_boundary = module.github_oidc.workload_boundary_arn
}

module "kinesis" {
  source = "../../modules/kinesis"

  name            = var.name
  account_id      = local.account_id
  partition       = local.partition
  streams         = { (var.stream_name) = var.stream_shards, (var.labels_stream_name) = var.labels_stream_shards }
  stream_mode     = var.stream_mode
  retention_hours = var.stream_retention_hours
}

module "lake" {
  source = "../../modules/lake"

  name             = var.name
  account_id       = local.account_id
  partition        = local.partition
  bucket           = var.bucket
  lake_tables_file = "${local.repo_root}/fraudstream/lake_tables.json"
  queries_dir      = "${local.repo_root}/fraudstream/lake/queries"
}

module "alerts" {
  source = "../../modules/dynamodb"

  name       = var.name
  account_id = local.account_id
  partition  = local.partition
  table_name = var.alerts_table
}

module "ecr" {
  source = "../../modules/ecr"

  name       = var.name
  account_id = local.account_id
  partition  = local.partition
}

module "sagemaker" {
  source = "../../modules/sagemaker"

  name                 = var.name
  account_id           = local.account_id
  partition            = local.partition
  region               = var.region
  endpoint_name        = var.sagemaker_endpoint
  image                = "${module.ecr.repository_urls["model-server"]}:${var.model_image_tag}"
  model_data_url       = var.model_data_url
  lake_bucket_arn      = module.lake.bucket_arn
  lake_kms_key_arn     = module.lake.kms_key_arn
  model_repository_arn = module.ecr.repository_arns["model-server"]
  ecr_kms_key_arn      = module.ecr.kms_key_arn
  vpc_id               = module.network.vpc_id
  vpc_cidr             = module.network.vpc_cidr
  s3_prefix_list_id    = module.network.s3_prefix_list_id
  subnet_ids           = module.network.private_subnet_ids
  instance_type        = var.sagemaker_instance_type
  min_instances        = var.sagemaker_min_instances
  max_instances        = var.sagemaker_max_instances

  # Roles the deploy role may create or change must carry the workload boundary (github_oidc).
  permissions_boundary = module.github_oidc.workload_boundary_arn
}

module "github_oidc" {
  source = "../../modules/github_oidc"

  name                 = var.name
  account_id           = local.account_id
  partition            = local.partition
  region               = var.region
  repository           = var.github_repository
  ecr_repository_arns  = values(module.ecr.repository_arns)
  state_bucket         = var.state_bucket
  create_oidc_provider = var.create_github_oidc_provider
}

module "eks" {
  source = "../../modules/eks"

  name                = var.name
  account_id          = local.account_id
  partition           = local.partition
  region              = var.region
  kubernetes_version  = var.kubernetes_version
  subnet_ids          = module.network.private_subnet_ids
  public_access_cidrs = var.cluster_public_access_cidrs
  admin_principals    = merge({ ci-deploy = module.github_oidc.deploy_role_arn }, { for i, arn in var.cluster_admin_arns : "admin-${i}" => arn })
  node_instance_types = var.node_instance_types
  node_min            = var.node_min
  node_desired        = var.node_desired
  node_max            = var.node_max

  # Roles the deploy role may create or change must carry the workload boundary (github_oidc).
  permissions_boundary = module.github_oidc.workload_boundary_arn
}

module "workload_iam" {
  source = "../../modules/workload_iam"

  name                         = var.name
  account_id                   = local.account_id
  partition                    = local.partition
  region                       = var.region
  oidc_provider_arn            = module.eks.oidc_provider_arn
  oidc_issuer                  = module.eks.oidc_issuer
  stream_arns                  = values(module.kinesis.stream_arns)
  streams_kms_key_arn          = module.kinesis.kms_key_arn
  lake_bucket_arn              = module.lake.bucket_arn
  lake_kms_key_arn             = module.lake.kms_key_arn
  lake_prefixes                = local.processor_prefixes
  lake_table_prefixes          = [for t in local.lake.tables : t.prefix]
  retrain_table_prefixes       = [for name in ["transactions", "labels"] : local.lake.tables[name].prefix]
  alerts_table_arn             = module.alerts.table_arn
  alerts_recent_index_arn      = module.alerts.recent_index_arn
  alerts_kms_key_arn           = module.alerts.kms_key_arn
  endpoint_arn                 = module.sagemaker.endpoint_arn
  endpoint_name                = module.sagemaker.endpoint_name
  sagemaker_execution_role_arn = module.sagemaker.execution_role_arn
  model_metrics_namespace      = var.model_metrics_namespace

  # Roles the deploy role may create or change must carry the workload boundary (github_oidc).
  permissions_boundary = module.github_oidc.workload_boundary_arn
}

module "alarms" {
  source = "../../modules/alarms"

  name            = var.name
  account_id      = local.account_id
  partition       = local.partition
  stream_names    = keys(module.kinesis.stream_arns)
  consumed_stream = var.stream_name
  iterator_age_ms = var.iterator_age_alarm_ms
  endpoint_name   = module.sagemaker.endpoint_name
  variant_name    = module.sagemaker.variant_name
  alerts_table    = module.alerts.table_name
  alarm_emails    = var.alarm_emails

  model_metrics_namespace = var.model_metrics_namespace
}
