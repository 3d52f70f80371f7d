# The alerts table: review and block decisions, on-demand capacity, PITR, TTL, customer-key SSE.

resource "aws_kms_key" "alerts" {
  description             = "${var.name}: alerts table encryption"
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

resource "aws_kms_alias" "alerts" {
  name          = "alias/${var.name}-alerts"
  target_key_id = aws_kms_key.alerts.key_id
}

resource "aws_dynamodb_table" "alerts" {
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = var.hash_key
  range_key                   = var.range_key
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = var.hash_key
    type = "S"
  }

  attribute {
    name = var.range_key
    type = "S"
  }

  attribute {
    name = var.recent_index_hash_key
    type = "S"
  }

  # The live view's "latest alerts": newest N per decision is one Query, whatever the table's
  # size (docs/adr/0004-latest-alerts-index.md). Same layout as fraudstream/stack/resources.py.
  global_secondary_index {
    name            = var.recent_index_name
    hash_key        = var.recent_index_hash_key
    range_key       = var.range_key
    projection_type = "ALL"
  }

  ttl {
    attribute_name = var.ttl_attribute
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.alerts.arn
  }
}
