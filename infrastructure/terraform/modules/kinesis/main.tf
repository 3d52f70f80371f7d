# Kinesis streams of transactions and delayed labels, encrypted with their own customer key.

resource "aws_kms_key" "streams" {
  count = var.kms_key_id == null ? 1 : 0

  description             = "${var.name}: Kinesis stream encryption"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
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

resource "aws_kms_alias" "streams" {
  count = var.kms_key_id == null ? 1 : 0

  name          = "alias/${var.name}-kinesis"
  target_key_id = aws_kms_key.streams[0].key_id
}

locals {
  kms_key = var.kms_key_id == null ? aws_kms_key.streams[0].arn : var.kms_key_id
}

resource "aws_kinesis_stream" "this" {
  for_each = var.streams

  name                = each.key
  shard_count         = var.stream_mode == "PROVISIONED" ? each.value : null
  retention_period    = var.retention_hours
  encryption_type     = "KMS"
  kms_key_id          = local.kms_key
  shard_level_metrics = var.shard_level_metrics

  stream_mode_details {
    stream_mode = var.stream_mode
  }
}
