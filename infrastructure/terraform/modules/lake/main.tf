# The lake: one bucket, SSE-KMS, versioned, private, TLS only, holding four Delta tables (zstd
# Parquet under dt=/hour=, plus each table's _delta_log). Glue tables of type DELTA point Athena
# (engine 3) at them: files and partitions come from the log, so no crawler and no partition
# projection. Columns from fraudstream/lake_tables.json; an Athena workgroup and the named queries
# under fraudstream/lake/queries/ (package data, so `fraudstream lake` runs them too).

locals {
  lake     = jsondecode(file(var.lake_tables_file))
  database = local.lake.database
  tables   = local.lake.tables
  queries  = { for f in fileset(var.queries_dir, "*.sql") : trimsuffix(f, ".sql") => file("${var.queries_dir}/${f}") }

  # Prefixes the processor writes table data under; transitions apply to these only (checkpoints
  # and Athena results stay in Standard: they are read back soon or deleted).
  table_prefixes = { for name, table in local.tables : name => table.prefix }
}

resource "aws_kms_key" "lake" {
  description             = "${var.name}: lake bucket, Athena results and SageMaker data capture"
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

resource "aws_kms_alias" "lake" {
  name          = "alias/${var.name}-lake"
  target_key_id = aws_kms_key.lake.key_id
}

resource "aws_s3_bucket" "lake" {
  #checkov:skip=CKV_AWS_18:Access is audited with CloudTrail S3 data events at the account level; server access logs would need a second bucket that fails this same check.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; versioning guards deletes, and regional DR is a documented non-goal (docs/deploy.md).
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events: Athena finds data through each table's Delta log and the processor writes by key.
  bucket        = var.bucket
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.lake.arn
    }
    bucket_key_enabled = true # one data key per bucket, not per object: far fewer KMS requests
  }
}

resource "aws_s3_bucket_policy" "lake" {
  bucket = aws_s3_bucket.lake.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.lake.arn, "${aws_s3_bucket.lake.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.lake]
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  count = var.lifecycle_enabled ? 1 : 0

  bucket                                 = aws_s3_bucket.lake.id
  transition_default_minimum_object_size = "all_storage_classes_128K"

  dynamic "rule" {
    for_each = local.table_prefixes
    content {
      id     = "tier-${rule.key}"
      status = "Enabled"
      filter {
        prefix = rule.value
      }
      transition {
        days          = var.infrequent_access_after_days
        storage_class = "STANDARD_IA"
      }
      transition {
        days          = var.glacier_after_days
        storage_class = "GLACIER_IR"
      }
    }
  }

  rule {
    id     = "expire-athena-results"
    status = "Enabled"
    filter {
      prefix = "athena-results/"
    }
    expiration {
      days = var.athena_results_days
    }
  }

  rule {
    id     = "housekeeping"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 2
    }
    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.lake]
}

# --- Glue catalogue: Delta tables, read natively by Athena --------------------------------------

resource "aws_glue_catalog_database" "lake" {
  name        = local.database
  description = "Fraudstream lake (tables defined by fraudstream/lake_tables.json)."
}

resource "aws_glue_catalog_table" "lake" {
  for_each = local.tables

  name          = each.key
  database_name = aws_glue_catalog_database.lake.name
  description   = each.value.comment
  table_type    = "EXTERNAL_TABLE"

  # Athena reads the schema, files and partitions from the table's _delta_log; the columns here
  # (dt and hour included, as Delta's partition columns) keep Glue, Lake Formation and views in
  # step with it. The processor (or `fraudstream stack up` locally) creates the log.
  parameters = {
    EXTERNAL                     = "TRUE"
    table_type                   = "DELTA"
    "spark.sql.sources.provider" = "delta"
  }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.lake.bucket}/${each.value.prefix}"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
      parameters = {
        "serialization.format" = "1"
        path                   = "s3://${aws_s3_bucket.lake.bucket}/${each.value.prefix}"
      }
    }

    dynamic "columns" {
      for_each = concat(each.value.columns, each.value.partition_keys)
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}

# --- Athena ----------------------------------------------------------------------------------------

resource "aws_athena_workgroup" "lake" {
  name          = var.athena_workgroup
  description   = "Fraudstream lake queries (results encrypted, scan size capped)."
  force_destroy = var.force_destroy

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.athena_bytes_scanned_cutoff

    engine_version {
      selected_engine_version = "Athena engine version 3" # reads Delta tables natively
    }

    result_configuration {
      output_location = "s3://${aws_s3_bucket.lake.bucket}/athena-results/"
      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = aws_kms_key.lake.arn
      }
    }
  }

  # moto requires tags on a workgroup; real AWS gets the provider's default tags as well.
  tags = { component = "lake" }
}

resource "aws_athena_named_query" "lake" {
  for_each = var.named_queries_enabled ? local.queries : {}

  name        = each.key
  description = trimprefix(split("\n", each.value)[0], "-- ")
  database    = aws_glue_catalog_database.lake.name
  workgroup   = aws_athena_workgroup.lake.id
  query       = each.value
}
