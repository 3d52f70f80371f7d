output "kubernetes" {
  description = "Values substituted into infrastructure/kubernetes/*.yaml by render.py (keys are the $${NAME} placeholders; CD adds IMAGE_TAG)."
  value = {
    AWS_REGION                 = var.region
    PRODUCER_IMAGE_REPOSITORY  = module.ecr.repository_urls["producer"]
    PROCESSOR_IMAGE_REPOSITORY = module.ecr.repository_urls["processor"]
    SPARK_DRIVER_ROLE_ARN      = module.workload_iam.role_arns["spark-driver"]
    SPARK_EXECUTOR_ROLE_ARN    = module.workload_iam.role_arns["spark-executor"]
    PRODUCER_ROLE_ARN          = module.workload_iam.role_arns["producer"]
    MODEL_DEPLOY_ROLE_ARN      = module.workload_iam.role_arns["model-deploy"]
    LAKE_COMPACT_ROLE_ARN      = module.workload_iam.role_arns["lake-compact"]
    MODEL_RETRAIN_ROLE_ARN     = module.workload_iam.role_arns["model-retrain"]
    STREAM_NAME                = var.stream_name
    STREAM_SHARDS              = tostring(var.stream_shards)
    LABELS_STREAM_NAME         = var.labels_stream_name
    LABELS_STREAM_SHARDS       = tostring(var.labels_stream_shards)
    PROCESSOR_CELLS            = tostring(var.processor_cells)
    BUCKET                     = module.lake.bucket
    ALERTS_TABLE               = module.alerts.table_name
    SAGEMAKER_ENDPOINT         = module.sagemaker.endpoint_name
    MODEL_METRICS_NAMESPACE    = var.model_metrics_namespace
    CHECKPOINT_LOCATION        = "s3a://${module.lake.bucket}/checkpoints/processor"
    VPC_CIDR                   = module.network.vpc_cidr
    SERVICE_CIDR               = module.eks.service_cidr
  }
}

output "cluster_name" {
  description = "EKS cluster (aws eks update-kubeconfig --name <this>)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Kubernetes API URL for spark-submit --master k8s://<this>."
  value       = module.eks.cluster_endpoint
}

output "ecr_repositories" {
  description = "Image => ECR repository URL."
  value       = module.ecr.repository_urls
}

output "ci_role_arns" {
  description = "Roles for the CD workflow (set as GitHub repository variables)."
  value       = module.github_oidc.role_arns
}

output "sagemaker_endpoint" {
  description = "SageMaker endpoint name."
  value       = module.sagemaker.endpoint_name
}

output "sagemaker_execution_role_arn" {
  description = "Role SageMaker assumes (`fraudstream model deploy` passes it to new models)."
  value       = module.sagemaker.execution_role_arn
}

output "athena_workgroup" {
  description = "Athena workgroup with the named queries."
  value       = module.lake.athena_workgroup
}

output "glue_database" {
  description = "Glue database of the lake tables."
  value       = module.lake.glue_database
}

output "alarm_topic_arn" {
  description = "SNS topic of the CloudWatch alarms."
  value       = module.alarms.topic_arn
}

output "irsa_policies" {
  description = "Service account => IAM policy (for review)."
  value       = module.workload_iam.policies
}

output "glue_tables" {
  description = "Glue tables of the lake."
  value       = module.lake.glue_tables
}

output "athena_named_queries" {
  description = "Athena named queries (name => id)."
  value       = keys(module.lake.named_queries)
}

output "irsa_trust_subjects" {
  description = "IRSA role => the one Kubernetes service account it trusts."
  value       = module.workload_iam.trust_subjects
}

output "ci_trust_subjects" {
  description = "CI role => the GitHub OIDC subject it trusts."
  value       = module.github_oidc.trust_subjects
}
