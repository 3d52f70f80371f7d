# Roles that GitHub Actions assumes with OIDC (no stored AWS keys):
#   ci-build   main branch only: push images to the three ECR repositories
#   ci-plan    main branch only: read-only plan, plus the state object and its lock
#   ci-deploy  jobs in the protected GitHub environment only (required reviewers approve):
#              terraform apply, model deploy and the Spark rollout

locals {
  issuer       = "token.actions.githubusercontent.com"
  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${var.partition}:iam::${var.account_id}:oidc-provider/${local.issuer}"
  subjects = {
    ci-build  = "repo:${var.repository}:ref:refs/heads/main"
    ci-plan   = "repo:${var.repository}:ref:refs/heads/main"
    ci-deploy = "repo:${var.repository}:environment:${var.deploy_environment}"
  }
  state_objects = "arn:${var.partition}:s3:::${var.state_bucket}/${var.state_key_prefix}*"
}

resource "aws_iam_openid_connect_provider" "github" {
  count          = var.create_oidc_provider ? 1 : 0
  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]
}

resource "aws_iam_role" "this" {
  for_each = local.subjects

  name                 = "${var.name}-${each.key}"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = local.provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "${local.issuer}:aud" = "sts.amazonaws.com"
          "${local.issuer}:sub" = each.value
        }
      }
    }]
  })
}

resource "aws_iam_role_policy" "build" {
  name = "push-images"
  role = aws_iam_role.this["ci-build"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "PushImages"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:DescribeImages",
          "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
        ]
        Resource = var.ecr_repository_arns
      },
      {
        # GetAuthorizationToken has no resource-level permissions: AWS only accepts "*".
        Sid      = "EcrLogin"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = ["*"]
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.this["ci-plan"].name
  policy_arn = "arn:${var.partition}:iam::aws:policy/ReadOnlyAccess"
}

resource "aws_iam_role_policy" "state" {
  for_each = toset(["ci-plan", "ci-deploy"])

  name = "terraform-state"
  role = aws_iam_role.this[each.value].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "StateAndLock"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = [local.state_objects]
      },
      {
        Sid       = "ListState"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = ["arn:${var.partition}:s3:::${var.state_bucket}"]
        Condition = { StringLike = { "s3:prefix" = ["${var.state_key_prefix}*"] } }
      },
    ]
  })
}

# The deploy role applies this whole configuration: PowerUserAccess covers every service here but
# IAM; IAM writes are limited to this platform's own roles, policies and OIDC providers.
resource "aws_iam_role_policy_attachment" "deploy_power_user" {
  role       = aws_iam_role.this["ci-deploy"].name
  policy_arn = "arn:${var.partition}:iam::aws:policy/PowerUserAccess"
}

resource "aws_iam_role_policy" "deploy_iam" {
  name = "manage-platform-iam"
  role = aws_iam_role.this["ci-deploy"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "PlatformRoles"
        Effect = "Allow"
        Action = [
          "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateRole",
          "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
          "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
          "iam:ListInstanceProfilesForRole", "iam:PassRole",
        ]
        Resource = ["arn:${var.partition}:iam::${var.account_id}:role/${var.name}-*"]
      },
      {
        Sid    = "PlatformOidcProviders"
        Effect = "Allow"
        Action = [
          "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:GetOpenIDConnectProvider",
          "iam:TagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
          "iam:AddClientIDToOpenIDConnectProvider", "iam:RemoveClientIDFromOpenIDConnectProvider",
        ]
        Resource = ["arn:${var.partition}:iam::${var.account_id}:oidc-provider/*"]
      },
      {
        Sid      = "ServiceLinkedRoles"
        Effect   = "Allow"
        Action   = ["iam:CreateServiceLinkedRole"]
        Resource = ["arn:${var.partition}:iam::${var.account_id}:role/aws-service-role/*"]
      },
    ]
  })
}
