# Roles that GitHub Actions assumes with OIDC (no stored AWS keys):
#   ci-build   main branch only: push images to the three ECR repositories
#   ci-plan    main branch only: read-only plan, plus the state object and its lock
#   ci-deploy  jobs in the protected GitHub environment only (required reviewers approve):
#              terraform apply, model deploy and the Spark rollout
#
# Guardrails (docs/security.md), so that no CI role can make itself an administrator:
#   * every CI role carries the permissions boundary `<name>-ci-boundary`: a ceiling with no IAM
#     beyond the platform's own roles and EKS OIDC providers, and explicit denies on changing
#     any CI role, either boundary, or an OIDC provider that is not an EKS cluster's;
#   * ci-deploy may create or change a platform role only while that role carries the workload
#     boundary `<name>-workload-boundary` (no IAM writes at all), so it cannot mint a role more
#     powerful than the ones it has; every platform role in this configuration carries it.
# Changing the CI roles or the boundaries therefore needs an administrator's apply.

locals {
  issuer       = "token.actions.githubusercontent.com"
  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${var.partition}:iam::${var.account_id}:oidc-provider/${local.issuer}"
  subjects = {
    ci-build  = "repo:${var.repository}:ref:refs/heads/main"
    ci-plan   = "repo:${var.repository}:ref:refs/heads/main"
    ci-deploy = "repo:${var.repository}:environment:${var.deploy_environment}"
  }
  state_objects = "arn:${var.partition}:s3:::${var.state_bucket}/${var.state_key_prefix}*"

  iam             = "arn:${var.partition}:iam::${var.account_id}"
  platform_roles  = "${local.iam}:role/${var.name}-*"
  ci_roles        = "${local.iam}:role/${var.name}-ci-*"
  boundaries      = "${local.iam}:policy/${var.name}-*-boundary"
  ci_boundary_arn = "${local.iam}:policy/${var.name}-ci-boundary"
  # Known before the policy exists, so the deploy policy and the other modules need no cycle.
  workload_boundary_arn = "${local.iam}:policy/${var.name}-workload-boundary"
  # The clusters' IRSA issuers; GitHub's provider (which the CI roles trust) is not among them.
  eks_oidc_providers = "${local.iam}:oidc-provider/oidc.eks.${var.region}.amazonaws.com/id/*"

  # Everything that changes what a role may do or who may assume it.
  role_writes = [
    "iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:TagRole",
    "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary", "iam:PassRole",
  ]
  # Role writes that carry the `iam:PermissionsBoundary` condition key.
  bounded_role_writes = [
    "iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy",
    "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
  ]
  policy_writes = [
    "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
  ]
  oidc_provider_writes = [
    "iam:CreateOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider", "iam:RemoveClientIDFromOpenIDConnectProvider",
  ]
}

resource "aws_iam_openid_connect_provider" "github" {
  count          = var.create_oidc_provider ? 1 : 0
  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]
}

# The ceiling of every CI role. The allows say what a CI role can ever reach (all services but
# IAM, Organizations and Account; IAM only on the platform's roles and the clusters' OIDC
# providers); the denies hold whatever the identity policies say.
resource "aws_iam_policy" "ci_boundary" {
  #checkov:skip=CKV_AWS_286:A permissions boundary grants nothing by itself; it caps the identity policies, and its denies are what block escalation
  #checkov:skip=CKV_AWS_287:A permissions boundary grants nothing by itself; the Allow is a ceiling mirroring PowerUserAccess, intersected with each role's own policy
  #checkov:skip=CKV_AWS_288:A permissions boundary grants nothing by itself; the Allow is a ceiling mirroring PowerUserAccess, intersected with each role's own policy
  #checkov:skip=CKV_AWS_289:A permissions boundary grants nothing by itself; the Allow is a ceiling mirroring PowerUserAccess, intersected with each role's own policy
  #checkov:skip=CKV_AWS_290:A permissions boundary grants nothing by itself; the Allow is a ceiling mirroring PowerUserAccess, intersected with each role's own policy
  #checkov:skip=CKV_AWS_355:A ceiling must name every resource a role might be granted, so it is '*'; the identity policies name their resources
  name        = "${var.name}-ci-boundary"
  description = "Permissions boundary of the CI roles: they cannot change themselves or their guardrails."
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CeilingWithoutIam"
        Effect    = "Allow"
        NotAction = ["iam:*", "organizations:*", "account:*"]
        Resource  = ["*"]
      },
      {
        Sid      = "ReadIam"
        Effect   = "Allow"
        Action   = ["iam:Get*", "iam:List*"]
        Resource = ["*"]
      },
      {
        Sid      = "PlatformIam"
        Effect   = "Allow"
        Action   = concat(local.role_writes, local.oidc_provider_writes, ["iam:CreateServiceLinkedRole"])
        Resource = [local.platform_roles, local.eks_oidc_providers, "${local.iam}:role/aws-service-role/*"]
      },
      {
        Sid      = "NoChangeToCiRoles"
        Effect   = "Deny"
        Action   = local.role_writes
        Resource = [local.ci_roles]
      },
      {
        Sid      = "NoChangeToBoundaries"
        Effect   = "Deny"
        Action   = local.policy_writes
        Resource = [local.boundaries]
      },
      {
        Sid      = "NoBoundaryRemoval"
        Effect   = "Deny"
        Action   = ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"]
        Resource = ["*"]
      },
      {
        # A role the CI creates or changes must carry the workload boundary, so it can never hold
        # more than that boundary allows (no IAM writes).
        Sid       = "OnlyBoundedRoles"
        Effect    = "Deny"
        Action    = local.bounded_role_writes
        Resource  = ["*"]
        Condition = { StringNotEquals = { "iam:PermissionsBoundary" = local.workload_boundary_arn } }
      },
      {
        Sid         = "OnlyClusterOidcProviders"
        Effect      = "Deny"
        Action      = local.oidc_provider_writes
        NotResource = [local.eks_oidc_providers]
      },
    ]
  })
}

# The ceiling of every platform role the CI may create or change (EKS, nodes, SageMaker, flow
# logs, IRSA): any service but IAM, Organizations and Account, plus passing platform roles (model
# deploy passes the SageMaker role) and creating service-linked roles (EKS does).
resource "aws_iam_policy" "workload_boundary" {
  #checkov:skip=CKV_AWS_286:A permissions boundary grants nothing by itself; it caps the identity policies, and its denies are what block escalation
  #checkov:skip=CKV_AWS_287:A permissions boundary grants nothing by itself; the Allow is a ceiling mirroring PowerUserAccess, intersected with each role's own policy
  #checkov:skip=CKV_AWS_288:A permissions boundary grants nothing by itself; the Allow is a ceiling mirroring PowerUserAccess, intersected with each role's own policy
  #checkov:skip=CKV_AWS_289:A permissions boundary grants nothing by itself; the Allow is a ceiling mirroring PowerUserAccess, intersected with each role's own policy
  #checkov:skip=CKV_AWS_290:A permissions boundary grants nothing by itself; the Allow is a ceiling mirroring PowerUserAccess, intersected with each role's own policy
  #checkov:skip=CKV_AWS_355:A ceiling must name every resource a role might be granted, so it is '*'; the identity policies name their resources
  name        = "${var.name}-workload-boundary"
  description = "Permissions boundary of the platform's workload roles: no IAM writes."
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "CeilingWithoutIam"
        Effect    = "Allow"
        NotAction = ["iam:*", "organizations:*", "account:*"]
        Resource  = ["*"]
      },
      {
        Sid      = "PassPlatformRoles"
        Effect   = "Allow"
        Action   = ["iam:PassRole"]
        Resource = [local.platform_roles]
      },
      {
        Sid      = "ServiceLinkedRoles"
        Effect   = "Allow"
        Action   = ["iam:CreateServiceLinkedRole"]
        Resource = ["${local.iam}:role/aws-service-role/*"]
      },
      {
        Sid      = "NoPassingCiRoles"
        Effect   = "Deny"
        Action   = ["iam:PassRole"]
        Resource = [local.ci_roles]
      },
    ]
  })
}

resource "aws_iam_role" "this" {
  for_each = local.subjects

  name                 = "${var.name}-${each.key}"
  max_session_duration = 3600
  permissions_boundary = aws_iam_policy.ci_boundary.arn
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
# IAM. IAM writes are limited to the platform's roles, and only while a role carries the workload
# boundary; OIDC provider writes to the clusters' IRSA issuers. The CI boundary's denies hold on top.
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
        Sid    = "ReadPlatformIam"
        Effect = "Allow"
        Action = [
          "iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
          "iam:ListInstanceProfilesForRole", "iam:ListRoleTags", "iam:GetPolicy", "iam:GetPolicyVersion",
          "iam:ListPolicyVersions", "iam:GetOpenIDConnectProvider", "iam:ListOpenIDConnectProviderTags",
        ]
        Resource = [local.platform_roles, "${local.iam}:policy/${var.name}-*", "${local.iam}:oidc-provider/*"]
      },
      {
        Sid       = "BoundedPlatformRoles"
        Effect    = "Allow"
        Action    = local.bounded_role_writes
        Resource  = [local.platform_roles]
        Condition = { StringEquals = { "iam:PermissionsBoundary" = local.workload_boundary_arn } }
      },
      {
        Sid    = "PlatformRoles"
        Effect = "Allow"
        Action = [
          "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:TagRole", "iam:UntagRole",
          "iam:UpdateAssumeRolePolicy", "iam:PassRole",
        ]
        Resource = [local.platform_roles]
      },
      {
        Sid      = "ClusterOidcProviders"
        Effect   = "Allow"
        Action   = local.oidc_provider_writes
        Resource = [local.eks_oidc_providers]
      },
      {
        Sid      = "ServiceLinkedRoles"
        Effect   = "Allow"
        Action   = ["iam:CreateServiceLinkedRole"]
        Resource = ["${local.iam}:role/aws-service-role/*"]
      },
    ]
  })
}
