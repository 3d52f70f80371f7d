# Kinesis streams of transactions and delayed labels, encrypted with their own customer key.

resource "aws_kms_key" "streams" {
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
  name          = "alias/${var.name}-kinesis"
  target_key_id = aws_kms_key.streams.key_id
}

resource "aws_kinesis_stream" "this" {
  for_each = var.streams

  name                = each.key
  shard_count         = var.stream_mode == "PROVISIONED" ? each.value : null
  retention_period    = var.retention_hours
  encryption_type     = "KMS"
  kms_key_id          = aws_kms_key.streams.arn
  shard_level_metrics = var.shard_level_metrics

  stream_mode_details {
    stream_mode = var.stream_mode
  }
}
