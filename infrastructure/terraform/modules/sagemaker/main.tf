# The XGBoost endpoint: model, endpoint configuration with data capture, endpoint, and
# target-tracking autoscaling on invocations per instance.
#
# Terraform creates the first version (model "<endpoint>-bootstrap"). Later models and model-server
# images roll forward with `fraudstream model deploy --model-data-url` (new model + endpoint config,
# UpdateEndpoint), so the bootstrap model ignores image/artefact changes and the endpoint ignores
# changes to its configuration name here.

locals {
  variant = "primary"
}

resource "aws_kms_key" "endpoint" {
  description             = "${var.name}: SageMaker endpoint storage"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministersKey"
      Effect    = "Allow"
      Principal = { AWS = "arn:${var.partition}:iam::${var.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_iam_role" "execution" {
  name                 = "${var.name}-sagemaker-execution"
  permissions_boundary = var.permissions_boundary
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "sagemaker.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
    }]
  })
}

resource "aws_iam_role_policy" "execution" {
  name = "${var.name}-sagemaker-execution"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadModels"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${var.lake_bucket_arn}/models/*"]
      },
      {
        Sid      = "WriteDataCapture"
        Effect   = "Allow"
        Action   = ["s3:PutObject"]
        Resource = ["${var.lake_bucket_arn}/data-capture/*"]
      },
      {
        # Model artefacts in and data capture out, through S3 only.
        Sid       = "UseLakeKeyThroughS3"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource  = [var.lake_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = "s3.${var.region}.amazonaws.com" } }
      },
      {
        Sid       = "UseImageKeyThroughEcr"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:DescribeKey"]
        Resource  = [var.ecr_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = "ecr.${var.region}.amazonaws.com" } }
      },
      {
        # Storage volumes of the endpoint's instances, through SageMaker only.
        Sid       = "UseEndpointKeyThroughSageMaker"
        Effect    = "Allow"
        Action    = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource  = [aws_kms_key.endpoint.arn]
        Condition = { StringEquals = { "kms:ViaService" = "sagemaker.${var.region}.amazonaws.com" } }
      },
      {
        Sid      = "GrantEndpointKeyToSageMakerResources"
        Effect   = "Allow"
        Action   = ["kms:CreateGrant"]
        Resource = [aws_kms_key.endpoint.arn]
        Condition = {
          StringEquals = { "kms:ViaService" = "sagemaker.${var.region}.amazonaws.com" }
          Bool         = { "kms:GrantIsForAWSResource" = "true" }
        }
      },
      {
        Sid      = "PullModelImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
        Resource = [var.model_repository_arn]
      },
      {
        # GetAuthorizationToken has no resource-level permissions: AWS only accepts "*".
        Sid      = "EcrLogin"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = ["*"]
      },
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
        Resource = ["arn:${var.partition}:logs:*:${var.account_id}:log-group:/aws/sagemaker/Endpoints/${var.endpoint_name}*"]
      },
      {
        Sid       = "Metrics"
        Effect    = "Allow"
        Action    = ["cloudwatch:PutMetricData"]
        Resource  = ["*"]
        Condition = { StringLike = { "cloudwatch:namespace" = ["/aws/sagemaker/*", "AWS/SageMaker"] } }
      },
      {
        Sid    = "VpcNetworkInterfaces"
        Effect = "Allow"
        Action = [
          "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
          "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
          "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
        ]
        Resource  = ["*"]
        Condition = { StringEquals = { "aws:RequestedRegion" = var.region } }
      },
    ]
  })
}

resource "aws_security_group" "endpoint" {
  #checkov:skip=CKV2_AWS_5:Attached to the endpoint through aws_sagemaker_model.vpc_config, which checkov's graph does not follow.
  name_prefix = "${var.name}-sagemaker-"
  description = "SageMaker endpoint ENIs: no inbound; outbound HTTPS to S3 and the VPC's endpoints only"
  vpc_id      = var.vpc_id

  # The model container has no network (network isolation); these ENIs carry the model
  # artefact download from S3 (through the gateway endpoint) and calls to interface endpoints.
  egress {
    description     = "HTTPS to S3 through the gateway endpoint"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [var.s3_prefix_list_id]
  }

  egress {
    description = "HTTPS to interface endpoints in the VPC"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_model" "bootstrap" {
  name                     = "${var.endpoint_name}-bootstrap"
  execution_role_arn       = aws_iam_role.execution.arn
  enable_network_isolation = true

  primary_container {
    image          = var.image
    model_data_url = var.model_data_url
  }

  vpc_config {
    subnets            = var.subnet_ids
    security_group_ids = [aws_security_group.endpoint.id]
  }

  lifecycle {
    # Newer images and artefacts roll out through `fraudstream model deploy`, never by replacing this model
    # (the endpoint may still run on it).
    ignore_changes = [primary_container]
  }

  depends_on = [aws_iam_role_policy.execution]
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  name_prefix = "${var.endpoint_name}-"
  kms_key_arn = aws_kms_key.endpoint.arn

  production_variants {
    variant_name           = local.variant
    model_name             = aws_sagemaker_model.bootstrap.name
    instance_type          = var.instance_type
    initial_instance_count = var.min_instances
    initial_variant_weight = 1
  }

  data_capture_config {
    enable_capture              = var.capture_percent > 0
    initial_sampling_percentage = var.capture_percent
    destination_s3_uri          = "s3://${split(":::", var.lake_bucket_arn)[1]}/data-capture/"
    kms_key_id                  = var.lake_kms_key_arn

    capture_options {
      capture_mode = "Input"
    }
    capture_options {
      capture_mode = "Output"
    }

    capture_content_type_header {
      csv_content_types  = ["text/csv"]
      json_content_types = ["application/json"]
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "this" {
  name                 = var.endpoint_name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name

  lifecycle {
    # `fraudstream model deploy` moves the endpoint to newer configurations.
    ignore_changes = [endpoint_config_name]
  }
}

resource "aws_appautoscaling_target" "endpoint" {
  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.this.name}/variant/${local.variant}"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.min_instances
  max_capacity       = var.max_instances

  lifecycle {
    precondition {
      condition     = var.min_instances >= 1 && var.min_instances <= var.max_instances
      error_message = "Need 1 <= min_instances <= max_instances."
    }
  }
}

resource "aws_appautoscaling_policy" "endpoint" {
  name               = "${var.endpoint_name}-invocations"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.endpoint.service_namespace
  resource_id        = aws_appautoscaling_target.endpoint.resource_id
  scalable_dimension = aws_appautoscaling_target.endpoint.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.invocations_per_instance
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}
