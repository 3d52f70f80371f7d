output "table_name" {
  description = "Alerts table name."
  value       = aws_dynamodb_table.alerts.name
}

output "table_arn" {
  description = "Alerts table ARN."
  value       = aws_dynamodb_table.alerts.arn
}

output "kms_key_arn" {
  description = "Key that encrypts the table."
  value       = aws_kms_key.alerts.arn
}

output "recent_index_arn" {
  description = "ARN of the latest-alerts index (recent-by-decision), for Query-only grants."
  value       = "${aws_dynamodb_table.alerts.arn}/index/${var.recent_index_name}"
}
