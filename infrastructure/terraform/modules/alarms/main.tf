# CloudWatch alarms on the platform's failure signals, published to an encrypted SNS topic:
# the processor falling behind (iterator age), throttling on the streams and the alerts table,
# and endpoint errors (the processor then scores with its local fallback copy).

resource "aws_kms_key" "alarms" {
  description             = "${var.name}: alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersKey"
        Effect    = "Allow"
        Principal = { AWS = "arn:${var.partition}:iam::${var.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchPublishes"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
      },
    ]
  })
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  actions = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  alarm_name          = "${var.name}-${var.consumed_stream}-iterator-age"
  alarm_description   = "The processor is more than ${var.iterator_age_ms / 1000} s behind ${var.consumed_stream}."
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = var.consumed_stream }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = var.iterator_age_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching" # no GetRecords at all means the processor is down
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "stream_throttling" {
  for_each = {
    for pair in setproduct(var.stream_names, ["WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded"]) :
    "${pair[0]}-${pair[1]}" => { stream = pair[0], metric = pair[1] }
  }

  alarm_name          = "${var.name}-${each.value.stream}-${startswith(each.value.metric, "Write") ? "write" : "read"}-throttled"
  alarm_description   = "Kinesis throttles ${startswith(each.value.metric, "Write") ? "producers" : "the processor"} on ${each.value.stream}: add shards or use ON_DEMAND."
  namespace           = "AWS/Kinesis"
  metric_name         = each.value.metric
  dimensions          = { StreamName = each.value.stream }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "alerts_throttling" {
  alarm_name          = "${var.name}-${var.alerts_table}-throttled"
  alarm_description   = "DynamoDB throttles writes to ${var.alerts_table}."
  namespace           = "AWS/DynamoDB"
  metric_name         = "WriteThrottleEvents"
  dimensions          = { TableName = var.alerts_table }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "endpoint_errors" {
  for_each = { "5xx" = "Invocation5XXErrors", "4xx" = "Invocation4XXErrors" }

  alarm_name          = "${var.name}-${var.endpoint_name}-${each.key}-errors"
  alarm_description   = "The model endpoint answers ${each.key}: scoring falls back to the processor's local model copy."
  namespace           = "AWS/SageMaker"
  metric_name         = each.value
  dimensions          = { EndpointName = var.endpoint_name, VariantName = var.variant_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.endpoint_error_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}

resource "aws_cloudwatch_metric_alarm" "endpoint_latency" {
  alarm_name          = "${var.name}-${var.endpoint_name}-latency"
  alarm_description   = "p99 model latency above 200 ms: the processor's micro-batches slow down."
  namespace           = "AWS/SageMaker"
  metric_name         = "ModelLatency"
  dimensions          = { EndpointName = var.endpoint_name, VariantName = var.variant_name }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 2
  threshold           = 200000 # microseconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}
