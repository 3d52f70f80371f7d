output "stream_arns" {
  description = "Stream name => ARN."
  value       = module.kinesis.stream_arns
}

output "bucket" {
  description = "Lake bucket."
  value       = module.lake.bucket
}

output "alerts_table" {
  description = "Alerts table."
  value       = module.alerts.table_name
}

output "glue_database" {
  description = "Glue database of the lake."
  value       = module.lake.glue_database
}

output "glue_tables" {
  description = "Glue tables of the lake."
  value       = module.lake.glue_tables
}

output "athena_workgroup" {
  description = "Athena workgroup."
  value       = module.lake.athena_workgroup
}

output "settings_env" {
  description = "FRAUDSTREAM_* settings that point the platform at these resources."
  value = {
    AWS_ENDPOINT_URL                 = var.endpoint
    FRAUDSTREAM_REGION               = var.region
    FRAUDSTREAM_STREAM_NAME          = var.stream_name
    FRAUDSTREAM_STREAM_SHARDS        = tostring(var.stream_shards)
    FRAUDSTREAM_LABELS_STREAM_NAME   = var.labels_stream_name
    FRAUDSTREAM_LABELS_STREAM_SHARDS = tostring(var.labels_stream_shards)
    FRAUDSTREAM_BUCKET               = module.lake.bucket
    FRAUDSTREAM_ALERTS_TABLE         = module.alerts.table_name
  }
}
