# CloudWatch alarms on the platform's failure signals, published to an encrypted SNS topic:
# the processor falling behind (iterator age), throttling on the streams and the alerts table,
# endpoint errors (the processor then scores with its local fallback copy), and the model's
# health: score and feature drift, reviews over budget, recall falling as labels arrive.

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

# Model health: the processor puts each monitoring window's figures into
# var.model_metrics_namespace (FRAUDSTREAM_MODEL_METRICS_NAMESPACE; processor/sinks/cloudwatch.py).
# Missing data is not breaching: no window closes while no traffic flows, and the stalled
# processor already pages through the iterator-age alarm. The PSI figures are not put while the
# processor's feature state is younger than the history behind the model's baseline (a first
# start or a new cell): their drift is the cold start's, not the traffic's.
locals {
  model_alarms = {
    score-drift = {
      metric      = "ScorePSI"
      statistic   = "Maximum"
      period      = 60
      periods     = 2
      threshold   = var.score_psi_threshold
      comparison  = "GreaterThanThreshold"
      description = "The score's distribution moved from the model's training baseline (PSI above ${var.score_psi_threshold}): check the traffic and the features' PSI; retrain if it persists."
    }
    feature-drift = {
      metric      = "MaxFeaturePSI"
      statistic   = "Minimum"
      period      = 900
      periods     = 1
      threshold   = var.score_psi_threshold
      comparison  = "GreaterThanThreshold"
      description = "A top model feature drifted from the training baseline (PSI above ${var.score_psi_threshold} for 15 minutes)."
    }
    reviews-over-budget = {
      metric      = "ReviewRateToBudget"
      statistic   = "Average"
      period      = 900
      periods     = 1
      threshold   = 1.5
      comparison  = "GreaterThanThreshold"
      description = "Reviews run above 1.5 times the review budget: the analysts' queue grows."
    }
    recall-falling = {
      metric      = "RecallToValidation"
      statistic   = "Average"
      period      = 1800
      periods     = 1
      threshold   = var.recall_ratio_threshold
      comparison  = "LessThanThreshold"
      description = "On the frauds labelled so far, the decisions' recall is under ${var.recall_ratio_threshold * 100}% of the model's validation recall: a new pattern or drift; retrain or add a rule."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "model" {
  for_each = local.model_alarms

  alarm_name          = "${var.name}-model-${each.key}"
  alarm_description   = each.value.description
  namespace           = var.model_metrics_namespace
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.periods
  datapoints_to_alarm = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = each.value.comparison
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
}
