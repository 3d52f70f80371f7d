# The SageMaker module with a mocked provider: data capture of inputs and outputs, encrypted
# storage, network isolation, autoscaling bounds, and an execution role limited to its prefixes.

mock_provider "aws" {
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/fraudstream-sagemaker-execution" }
  }
  mock_resource "aws_sagemaker_endpoint_configuration" {
    defaults = { name = "fraudstream-xgboost-0001" }
  }
}

variables {
  name                 = "fraudstream"
  account_id           = "123456789012"
  region               = "us-east-1"
  endpoint_name        = "fraudstream-xgboost"
  image                = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraudstream/model-server:abc123"
  model_data_url       = "s3://fraudstream-lake-test/models/bootstrap/model.tar.gz"
  lake_bucket_arn      = "arn:aws:s3:::fraudstream-lake-test"
  lake_kms_key_arn     = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  model_repository_arn = "arn:aws:ecr:us-east-1:123456789012:repository/fraudstream/model-server"
  ecr_kms_key_arn      = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"
  vpc_id               = "vpc-0123456789abcdef0"
  vpc_cidr             = "10.40.0.0/16"
  s3_prefix_list_id    = "pl-63a5400a"
  subnet_ids           = ["subnet-aaaa", "subnet-bbbb"]
}

run "endpoint_shape" {
  command = apply

  assert {
    condition     = aws_sagemaker_endpoint_configuration.this.data_capture_config[0].enable_capture && aws_sagemaker_endpoint_configuration.this.data_capture_config[0].destination_s3_uri == "s3://fraudstream-lake-test/data-capture/"
    error_message = "Requests are captured to the lake's data-capture/ prefix."
  }

  assert {
    condition     = toset([for o in aws_sagemaker_endpoint_configuration.this.data_capture_config[0].capture_options : o.capture_mode]) == toset(["Input", "Output"])
    error_message = "Both inputs and outputs are captured."
  }

  assert {
    condition     = aws_sagemaker_endpoint_configuration.this.kms_key_arn != null && aws_sagemaker_model.bootstrap.enable_network_isolation
    error_message = "Endpoint storage is encrypted and the model container has no network."
  }

  assert {
    condition     = aws_appautoscaling_target.endpoint.min_capacity == 2 && aws_appautoscaling_target.endpoint.max_capacity == 4 && aws_appautoscaling_target.endpoint.resource_id == "endpoint/fraudstream-xgboost/variant/primary"
    error_message = "The primary variant autoscales between 2 and 4 instances."
  }

  assert {
    condition = toset(flatten([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if anytrue([for a in flatten([s.Action]) : startswith(a, "s3:")])
    ])) == toset(["arn:aws:s3:::fraudstream-lake-test/models/*", "arn:aws:s3:::fraudstream-lake-test/data-capture/*"])
    error_message = "SageMaker reads models/ and writes data-capture/ only."
  }

  assert {
    condition = alltrue([
      for rule in aws_security_group.endpoint.egress :
      rule.from_port == 443 && rule.to_port == 443 && !contains(coalesce(rule.cidr_blocks, []), "0.0.0.0/0") && length(coalesce(rule.ipv6_cidr_blocks, [])) == 0
    ]) && length(aws_security_group.endpoint.ingress) == 0
    error_message = "The endpoint's ENIs take no inbound traffic and reach only HTTPS inside the VPC, never 0.0.0.0/0."
  }

  assert {
    condition     = toset(flatten([for rule in aws_security_group.endpoint.egress : concat(coalesce(rule.cidr_blocks, []), coalesce(rule.prefix_list_ids, []))])) == toset(["10.40.0.0/16", "pl-63a5400a"])
    error_message = "HTTPS egress goes to the VPC's interface endpoints and to S3's prefix list only."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement :
      can(regex("^(s3|ecr|sagemaker)\\.us-east-1\\.amazonaws\\.com$", s.Condition.StringEquals["kms:ViaService"]))
      if anytrue([for a in flatten([s.Action]) : startswith(a, "kms:")])
    ])
    error_message = "Every KMS right of the execution role is usable only through S3, ECR or SageMaker (kms:ViaService)."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement :
      try(s.Condition.Bool["kms:GrantIsForAWSResource"], "") == "true"
      if contains(flatten([s.Action]), "kms:CreateGrant")
    ])
    error_message = "KMS grants go to AWS resources only."
  }

  assert {
    condition     = aws_sagemaker_model.bootstrap.name == "fraudstream-xgboost-bootstrap"
    error_message = "Model names carry the endpoint name (the model deploy role is scoped to that prefix)."
  }
}

run "rejects_a_non_s3_model" {
  command = plan

  variables {
    model_data_url = "https://example.com/model.tar.gz"
  }

  expect_failures = [var.model_data_url]
}

run "rejects_min_above_max" {
  command = plan

  variables {
    min_instances = 5
    max_instances = 2
  }

  expect_failures = [aws_appautoscaling_target.endpoint]
}
