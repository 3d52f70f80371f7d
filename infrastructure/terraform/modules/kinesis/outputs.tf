output "stream_arns" {
  description = "Stream name => ARN."
  value       = { for name, stream in aws_kinesis_stream.this : name => stream.arn }
}

output "kms_key_arn" {
  description = "ARN of the key that encrypts the streams (producers need GenerateDataKey, consumers Decrypt)."
  value       = local.kms_key
}
