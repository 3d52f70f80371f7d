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
