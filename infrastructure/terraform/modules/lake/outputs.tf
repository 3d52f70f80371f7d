output "bucket" {
  description = "Lake bucket name."
  value       = aws_s3_bucket.lake.bucket
}

output "bucket_arn" {
  description = "Lake bucket ARN."
  value       = aws_s3_bucket.lake.arn
}

output "kms_key_arn" {
  description = "Key of the lake bucket, Athena results and SageMaker data capture."
  value       = aws_kms_key.lake.arn
}

output "glue_database" {
  description = "Glue database of the lake tables."
  value       = aws_glue_catalog_database.lake.name
}

output "glue_tables" {
  description = "Names of the Glue tables."
  value       = sort(keys(aws_glue_catalog_table.lake))
}

output "table_prefixes" {
  description = "Table name => key prefix in the bucket."
  value       = local.table_prefixes
}

output "athena_workgroup" {
  description = "Athena workgroup name."
  value       = aws_athena_workgroup.lake.name
}

output "named_queries" {
  description = "Named query name => id."
  value       = { for name, query in aws_athena_named_query.lake : name => query.id }
}
