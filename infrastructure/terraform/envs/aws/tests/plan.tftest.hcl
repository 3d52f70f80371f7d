# Offline tests of the AWS environment: a mocked provider (no credentials, no network) plans and
# "applies" in memory, and the assertions check the security-relevant shape of the result.
# Run: terraform init -backend=false && terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_eks_cluster" {
    defaults = {
      arn                   = "arn:aws:eks:us-east-1:123456789012:cluster/fraudstream"
      endpoint              = "https://EXAMPLE.gr7.us-east-1.eks.amazonaws.com"
      identity              = [{ oidc = [{ issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE" }] }]
      certificate_authority = [{ data = "Q0E=" }]
    }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::fraudstream-lake-test" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:us-east-1:123456789012:repository/fraudstream/image"
      repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraudstream/image"
    }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_kinesis_stream" {
    defaults = { arn = "arn:aws:kinesis:us-east-1:123456789012:stream/mock" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:us-east-1:123456789012:table/fraud-alerts" }
  }
  mock_resource "aws_sagemaker_endpoint" {
    defaults = { arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraudstream-xgboost" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:fraudstream-alarms" }
  }
  mock_resource "aws_launch_template" {
    defaults = { id = "lt-0123456789abcdef0", latest_version = 1 }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/mock" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_iam_policy" {
    defaults = { arn = "arn:aws:iam::123456789012:policy/mock" }
  }
}

variables {
  bucket            = "fraudstream-lake-test"
  state_bucket      = "fraudstream-tfstate-test"
  github_repository = "example/fraudstream"
  model_image_tag   = "0123456789abcdef"
  model_data_url    = "s3://fraudstream-lake-test/models/bootstrap/model.tar.gz"
}

run "irsa_roles_trust_one_service_account_each" {
  command = apply

  assert {
    condition = output.irsa_trust_subjects == {
      spark-driver    = "system:serviceaccount:fraudstream:spark-driver"
      spark-executor  = "system:serviceaccount:fraudstream:spark-executor"
      producer        = "system:serviceaccount:fraudstream:producer"
      model-deploy    = "system:serviceaccount:fraudstream:model-deploy"
      alerts-notifier = "system:serviceaccount:fraudstream:alerts-notifier"
      lake-compact    = "system:serviceaccount:fraudstream:lake-compact"
      model-retrain   = "system:serviceaccount:fraudstream:model-retrain"
    }
    error_message = "Each IRSA role must trust exactly its own service account in the fraudstream namespace."
  }

  assert {
    condition = alltrue(flatten([
      for sa, policy in output.irsa_policies : [
        for s in policy.Statement : s.Effect == "Allow" && !contains(flatten([s.Action]), "*") && !anytrue([for a in flatten([s.Action]) : endswith(a, ":*")])
      ]
    ]))
    error_message = "IRSA policies must name their actions: no '*' and no 'service:*'."
  }

  assert {
    condition = alltrue(flatten([
      for sa, policy in output.irsa_policies : [
        for s in policy.Statement :
        !contains(flatten([s.Resource]), "*") || (
          # PutMetricData has no resource ARNs: allowed on "*" only when held to one namespace.
          toset(flatten([s.Action])) == toset(["cloudwatch:PutMetricData"]) &&
          can(s.Condition.StringEquals["cloudwatch:namespace"])
        )
      ]
    ]))
    error_message = "IRSA policies must name their resources: no '*' (except cloudwatch:PutMetricData held to one namespace)."
  }

  assert {
    condition = alltrue(flatten([
      for sa, policy in output.irsa_policies : [
        for s in policy.Statement :
        can(regex("^(kinesis|s3|dynamodb)\\.us-east-1\\.amazonaws\\.com$", s.Condition.StringEquals["kms:ViaService"]))
        if anytrue([for a in flatten([s.Action]) : startswith(a, "kms:")])
      ]
    ]))
    error_message = "Every KMS right of an IRSA role is usable only through the service that holds the data (kms:ViaService)."
  }

  assert {
    condition = toset(flatten([for s in output.irsa_policies["producer"].Statement : s.Action])) == toset([
      "kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStreamSummary", "kinesis:ListShards", "kms:GenerateDataKey",
    ])
    error_message = "The producer may only put records on the streams."
  }

  assert {
    condition     = output.irsa_policies["spark-driver"] == output.irsa_policies["spark-executor"]
    error_message = "Driver and executors run the same job code and need the same data permissions."
  }

  assert {
    condition = alltrue([
      for r in flatten([for s in output.irsa_policies["spark-driver"].Statement : s.Resource if contains(flatten([s.Action]), "s3:PutObject")]) :
      can(regex("^arn:aws:s3:::fraudstream-lake-test/(transactions|aggregates|quarantine|labels|model_monitoring|shadow_scores|checkpoints)/\\*$", r))
    ])
    error_message = "The processor writes only the table prefixes and its checkpoints."
  }

  assert {
    condition = alltrue([
      for r in flatten([for s in output.irsa_policies["lake-compact"].Statement : s.Resource if contains(flatten([s.Action]), "s3:DeleteObject")]) :
      can(regex("^arn:aws:s3:::fraudstream-lake-test/(transactions|aggregates|quarantine|labels|model_monitoring|shadow_scores)/\\*$", r))
    ])
    error_message = "Compaction rewrites and deletes files under the table prefixes only, never checkpoints."
  }

  assert {
    condition = [
      for r in flatten([
        for s in output.irsa_policies["model-retrain"].Statement : s.Resource
        if length(setintersection(flatten([s.Action]), ["s3:PutObject", "s3:DeleteObject"])) > 0
      ]) : r
    ] == ["arn:aws:s3:::fraudstream-lake-test/models/challenger/*"]
    error_message = "Retraining writes only the challenger's folder and deletes nothing."
  }

  assert {
    condition = toset(flatten([
      for s in output.irsa_policies["model-retrain"].Statement : s.Resource
      if contains(flatten([s.Action]), "s3:GetObject")
      ])) == toset([
      "arn:aws:s3:::fraudstream-lake-test/transactions/*",
      "arn:aws:s3:::fraudstream-lake-test/labels/*",
      "arn:aws:s3:::fraudstream-lake-test/models/champion/*",
    ])
    error_message = "Retraining reads the transactions and labels tables and the champion, nothing else."
  }

  assert {
    condition = alltrue([
      for a in flatten([for s in output.irsa_policies["model-retrain"].Statement : s.Action]) :
      startswith(a, "s3:") || startswith(a, "kms:")
    ])
    error_message = "Retraining needs S3 and the lake key only (the lake is read from S3, not through Glue or Athena)."
  }

  assert {
    condition = alltrue([
      for s in output.irsa_policies["alerts-notifier"].Statement :
      !contains(flatten([s.Action]), "dynamodb:PutItem") || try(s.Condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"], []) == ["notified#*", "notifier#*"]
    ])
    error_message = "The alerts notifier may write only its own claim and cursor items, never an alert."
  }

  assert {
    condition = anytrue([
      for s in output.irsa_policies["model-deploy"].Statement :
      contains(flatten([s.Action]), "iam:PassRole") && try(s.Condition.StringEquals["iam:PassedToService"], "") == "sagemaker.amazonaws.com"
    ])
    error_message = "Model deploy may pass the SageMaker role to SageMaker only."
  }

  assert {
    condition = output.ci_trust_subjects == {
      ci-build  = "repo:example/fraudstream:ref:refs/heads/main"
      ci-plan   = "repo:example/fraudstream:ref:refs/heads/main"
      ci-deploy = "repo:example/fraudstream:environment:production"
    }
    error_message = "CI roles must trust only the main branch, and deploy only the protected environment."
  }

  assert {
    condition     = output.kubernetes.CHECKPOINT_LOCATION == "s3a://fraudstream-lake-test/checkpoints/processor"
    error_message = "Checkpoints go to the lake bucket over s3a."
  }
}

run "lake_tables_come_from_the_json_contract" {
  command = plan

  assert {
    condition     = toset(output.glue_tables) == toset(keys(jsondecode(file("../../../../fraudstream/lake_tables.json")).tables))
    error_message = "Every table in lake_tables.json becomes a Glue table."
  }

  assert {
    condition     = toset(output.athena_named_queries) == toset(["card_timeline", "fraud_rate_by_hour", "top_merchants_by_alerts"])
    error_message = "The named queries come from fraudstream/lake/queries/*.sql."
  }
}

run "rejects_a_single_availability_zone" {
  command = plan

  variables {
    azs = ["us-east-1a"]
  }

  expect_failures = [var.azs]
}

run "rejects_a_mutable_image_tag" {
  command = plan

  variables {
    model_image_tag = "latest"
  }

  expect_failures = [var.model_image_tag]
}
