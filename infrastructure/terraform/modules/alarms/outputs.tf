output "topic_arn" {
  description = "SNS topic the alarms publish to."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of every alarm."
  value = concat(
    [aws_cloudwatch_metric_alarm.iterator_age.alarm_name, aws_cloudwatch_metric_alarm.alerts_throttling.alarm_name, aws_cloudwatch_metric_alarm.endpoint_latency.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.stream_throttling : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.endpoint_errors : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.model : a.alarm_name],
  )
}
