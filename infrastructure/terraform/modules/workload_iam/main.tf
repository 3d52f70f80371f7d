# IAM roles for service accounts (IRSA). Each role trusts exactly one Kubernetes service
# account, and grants only what that workload calls:
#   spark-driver, spark-executor  read both streams; read/write the table and checkpoint
#                                 prefixes; write alerts; invoke the endpoint; put model metrics
#                                 into one CloudWatch namespace. Both run the job's
#                                 code (sources plan on the driver, read on executors; state
#                                 stores write checkpoints from executors), so they share one
#                                 policy; only the driver gets Kubernetes RBAC (to make executors).
#   producer                      put records on both streams.
#   model-deploy                  upload a model artefact, create model + endpoint config, update
#                                 the one endpoint, pass the SageMaker execution role.
#   lake-compact                  list, read, write and delete under the table prefixes only
#                                 (compaction rewrites files; vacuum deletes replaced ones).
#   model-retrain                 list and read the tables retraining joins (transactions,
#                                 labels) and the champion's folder; write only the challenger's
#                                 folder (the weekly `train --from-lake` CronJob). The lake is read
#                                 from S3 directly (Delta logs + Parquet), so no Glue or Athena.
#   alerts-notifier               query the latest-alerts index for blocks; write only its own
#                                 claim and cursor items (notified#*, notifier#*) in the alerts
#                                 table, never an alert (docs/adr/0005-block-alert-webhook.md).

locals {
  service_accounts = {
    spark-driver    = "spark-driver"
    spark-executor  = "spark-executor"
    producer        = "producer"
    model-deploy    = "model-deploy"
    alerts-notifier = "alerts-notifier"
    lake-compact    = "lake-compact"
    model-retrain   = "model-retrain"
  }
  sagemaker_arn = "arn:${var.partition}:sagemaker:${var.region}:${var.account_id}"
  # Every KMS grant names the service it may be used through: a role's key rights cannot be
  # used directly (kms:Decrypt of a stolen ciphertext), only by that service on its behalf.
  via = { for s in ["kinesis", "s3", "dynamodb"] : s => "${s}.${var.region}.amazonaws.com" }
}

resource "aws_iam_role" "this" {
  for_each = local.service_accounts

  name                 = "${var.name}-${each.key}"
  permissions_boundary = var.permissions_boundary
  description          = "IRSA role of ${var.namespace}/${each.value}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = var.oidc_provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${var.oidc_issuer}:sub" = "system:serviceaccount:${var.namespace}:${each.value}"
          "${var.oidc_issuer}:aud" = "sts.amazonaws.com"
        }
      }
    }]
  })
}

locals {
  processor_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadStreams"
        Effect   = "Allow"
        Action   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:GetShardIterator", "kinesis:GetRecords"]
        Resource = var.stream_arns
      },
      {
        Sid       = "DecryptStreamsThroughKinesis"
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = [var.streams_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = local.via["kinesis"] } }
      },
      {
        Sid       = "ListLakePrefixes"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = [var.lake_bucket_arn]
        Condition = { StringLike = { "s3:prefix" = [for p in var.lake_prefixes : "${p}*"] } }
      },
      {
        Sid      = "ReadWriteLakePrefixes"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        Resource = [for p in var.lake_prefixes : "${var.lake_bucket_arn}/${p}*"]
      },
      {
        Sid       = "UseLakeKeyThroughS3"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = [var.lake_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = local.via["s3"] } }
      },
      {
        Sid      = "WriteAlerts"
        Effect   = "Allow"
        Action   = ["dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable"]
        Resource = [var.alerts_table_arn]
      },
      {
        Sid       = "UseAlertsKeyThroughDynamoDB"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource  = [var.alerts_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = local.via["dynamodb"] } }
      },
      {
        Sid      = "InvokeModel"
        Effect   = "Allow"
        Action   = ["sagemaker:InvokeEndpoint"]
        Resource = [var.endpoint_arn]
      },
      {
        # PutMetricData has no resource-level permissions; the condition limits it to the
        # one namespace the model alarms watch.
        Sid       = "PublishModelMetrics"
        Effect    = "Allow"
        Action    = ["cloudwatch:PutMetricData"]
        Resource  = ["*"]
        Condition = { StringEquals = { "cloudwatch:namespace" = var.model_metrics_namespace } }
      },
    ]
  }

  producer_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "PutRecords"
        Effect   = "Allow"
        Action   = ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStreamSummary", "kinesis:ListShards"]
        Resource = var.stream_arns
      },
      {
        Sid       = "EncryptRecordsThroughKinesis"
        Effect    = "Allow"
        Action    = ["kms:GenerateDataKey"]
        Resource  = [var.streams_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = local.via["kinesis"] } }
      },
    ]
  }

  model_deploy_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "UploadModelArtefacts"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:GetObject"]
        Resource = ["${var.lake_bucket_arn}/${var.model_prefix}*"]
      },
      {
        Sid       = "UseLakeKeyThroughS3"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = [var.lake_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = local.via["s3"] } }
      },
      {
        Sid    = "RollModelForward"
        Effect = "Allow"
        Action = [
          "sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel",
          "sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig", "sagemaker:DeleteEndpointConfig",
          "sagemaker:AddTags",
        ]
        Resource = [
          "${local.sagemaker_arn}:model/${var.endpoint_name}-*",
          "${local.sagemaker_arn}:endpoint-config/${var.endpoint_name}-*",
        ]
      },
      {
        Sid      = "UpdateTheEndpoint"
        Effect   = "Allow"
        Action   = ["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpoint"]
        Resource = [var.endpoint_arn]
      },
      {
        Sid       = "PassSageMakerRole"
        Effect    = "Allow"
        Action    = ["iam:PassRole"]
        Resource  = [var.sagemaker_execution_role_arn]
        Condition = { StringEquals = { "iam:PassedToService" = "sagemaker.amazonaws.com" } }
      },
    ]
  }

  lake_compact_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "ListTablePrefixes"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = [var.lake_bucket_arn]
        Condition = { StringLike = { "s3:prefix" = [for p in var.lake_table_prefixes : "${p}*"] } }
      },
      {
        Sid      = "RewriteTableFiles"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        Resource = [for p in var.lake_table_prefixes : "${var.lake_bucket_arn}/${p}*"]
      },
      {
        Sid       = "UseLakeKey"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = [var.lake_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = local.via["s3"] } }
      },
    ]
  }

  model_retrain_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "ListTrainingTables"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = [var.lake_bucket_arn]
        Condition = { StringLike = { "s3:prefix" = [for p in var.retrain_table_prefixes : "${p}*"] } }
      },
      {
        Sid      = "ReadTrainingTablesAndChampion"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = [for p in concat(var.retrain_table_prefixes, [var.champion_prefix]) : "${var.lake_bucket_arn}/${p}*"]
      },
      {
        Sid      = "WriteChallenger"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = ["${var.lake_bucket_arn}/${var.challenger_prefix}*"]
      },
      {
        Sid       = "UseLakeKeyThroughS3"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = [var.lake_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = local.via["s3"] } }
      },
    ]
  }

  alerts_notifier_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "QueryBlockAlerts"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = [var.alerts_recent_index_arn]
      },
      {
        Sid      = "ClaimAndRecordNotifications"
        Effect   = "Allow"
        Action   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"]
        Resource = [var.alerts_table_arn]
        Condition = {
          "ForAllValues:StringLike" = { "dynamodb:LeadingKeys" = ["notified#*", "notifier#*"] }
        }
      },
      {
        Sid       = "UseAlertsKeyThroughDynamoDB"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource  = [var.alerts_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = local.via["dynamodb"] } }
      },
    ]
  }

  policies = {
    spark-driver    = local.processor_policy
    spark-executor  = local.processor_policy
    producer        = local.producer_policy
    model-deploy    = local.model_deploy_policy
    alerts-notifier = local.alerts_notifier_policy
    lake-compact    = local.lake_compact_policy
    model-retrain   = local.model_retrain_policy
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = local.policies

  name   = "${var.name}-${each.key}"
  role   = aws_iam_role.this[each.key].id
  policy = jsonencode(each.value)
}
