# The CI roles with a mocked provider: no CI role can change itself, its permissions boundary or
# another OIDC provider, and the deploy role cannot mint a role stronger than the workload
# boundary. IAM patterns are matched as IAM matches them: `*` any run of characters, actions
# case-insensitively (glob -> regex: escape ".", then "*" -> ".*").

mock_provider "aws" {}

override_resource {
  target = aws_iam_policy.ci_boundary
  values = { arn = "arn:aws:iam::123456789012:policy/fraudstream-ci-boundary" }
}

override_resource {
  target = aws_iam_policy.workload_boundary
  values = { arn = "arn:aws:iam::123456789012:policy/fraudstream-workload-boundary" }
}

override_resource {
  target = aws_iam_openid_connect_provider.github
  values = { arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }
}

variables {
  name                = "fraudstream"
  account_id          = "123456789012"
  region              = "us-east-1"
  repository          = "example/fraudstream"
  ecr_repository_arns = ["arn:aws:ecr:us-east-1:123456789012:repository/fraudstream/processor"]
  state_bucket        = "fraudstream-tfstate-test"
}

run "ci_roles_cannot_change_themselves_or_their_guardrails" {
  command = apply

  assert {
    condition     = alltrue([for role in aws_iam_role.this : role.permissions_boundary == aws_iam_policy.ci_boundary.arn])
    error_message = "Every CI role carries the CI permissions boundary."
  }

  # For each CI role and each way of changing a role, an unconditional Deny in the boundary that
  # matches both the action and the role's ARN: it holds whatever the identity policies allow.
  assert {
    condition = alltrue(flatten([
      for role in aws_iam_role.this : [
        for action in [
          "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:PutRolePermissionsBoundary",
          "iam:DeleteRolePermissionsBoundary", "iam:DetachRolePolicy", "iam:DeleteRolePolicy", "iam:UpdateRole",
          "iam:DeleteRole", "iam:PassRole", "iam:TagRole",
          ] : anytrue([
            for s in jsondecode(aws_iam_policy.ci_boundary.policy).Statement :
            s.Effect == "Deny" && try(s.Condition, null) == null
            && anytrue([for a in flatten([try(s.Action, [])]) : can(regex("^${replace(replace(lower(a), ".", "\\."), "*", ".*")}$", lower(action)))])
            && anytrue([for r in flatten([try(s.Resource, [])]) : can(regex("^${replace(replace(r, ".", "\\."), "*", ".*")}$", "arn:aws:iam::123456789012:role/${role.name}"))])
        ])
      ]
    ]))
    error_message = "The CI boundary must deny every CI role any change to a CI role (its own included)."
  }

  assert {
    condition = alltrue(flatten([
      for policy in [aws_iam_policy.ci_boundary.name, aws_iam_policy.workload_boundary.name] : [
        for action in ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion"] : anytrue([
          for s in jsondecode(aws_iam_policy.ci_boundary.policy).Statement :
          s.Effect == "Deny" && try(s.Condition, null) == null
          && anytrue([for a in flatten([try(s.Action, [])]) : can(regex("^${replace(replace(lower(a), ".", "\\."), "*", ".*")}$", lower(action)))])
          && anytrue([for r in flatten([try(s.Resource, [])]) : can(regex("^${replace(replace(r, ".", "\\."), "*", ".*")}$", "arn:aws:iam::123456789012:policy/${policy}"))])
        ])
      ]
    ]))
    error_message = "The CI boundary must deny rewriting either permissions boundary."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_policy.ci_boundary.policy).Statement :
      s.Effect == "Deny" && contains(flatten([try(s.Action, [])]), "iam:DeleteRolePermissionsBoundary") && contains(flatten([try(s.Resource, [])]), "*")
    ])
    error_message = "No CI role may remove a permissions boundary from any role."
  }

  # OIDC providers: writes only on the clusters' IRSA issuers, never on GitHub's (which the CI
  # roles trust) or anyone else's; denied in the boundary and not allowed to the deploy role.
  assert {
    condition = alltrue(flatten([
      for provider in ["token.actions.githubusercontent.com", "accounts.google.com", "oidc.eks.eu-west-1.amazonaws.com/id/OTHER"] : [
        for action in ["iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:CreateOpenIDConnectProvider"] : [
          anytrue([
            for s in jsondecode(aws_iam_policy.ci_boundary.policy).Statement :
            s.Effect == "Deny" && contains(flatten([try(s.Action, [])]), action)
            && !anytrue([for r in flatten([try(s.NotResource, [])]) : can(regex("^${replace(replace(r, ".", "\\."), "*", ".*")}$", "arn:aws:iam::123456789012:oidc-provider/${provider}"))])
          ]),
          !anytrue([
            for s in jsondecode(aws_iam_role_policy.deploy_iam.policy).Statement :
            s.Effect == "Allow"
            && anytrue([for a in flatten([try(s.Action, [])]) : can(regex("^${replace(replace(lower(a), ".", "\\."), "*", ".*")}$", lower(action)))])
            && anytrue([for r in flatten([try(s.Resource, [])]) : can(regex("^${replace(replace(r, ".", "\\."), "*", ".*")}$", "arn:aws:iam::123456789012:oidc-provider/${provider}"))])
          ]),
        ]
      ]
    ]))
    error_message = "CI may change only the EKS clusters' OIDC providers in its region, not GitHub's or any other."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.deploy_iam.policy).Statement :
      s.Effect == "Allow" && contains(flatten([try(s.Action, [])]), "iam:UpdateOpenIDConnectProviderThumbprint")
      && contains(flatten([try(s.Resource, [])]), "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/*")
    ])
    error_message = "The deploy role still manages the cluster's IRSA provider (terraform apply needs it)."
  }

  # A new or changed platform role must carry the workload boundary: the deploy role's allows say
  # so, and the CI boundary denies the same writes otherwise.
  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.deploy_iam.policy).Statement :
      try(s.Condition.StringEquals["iam:PermissionsBoundary"], "") == "arn:aws:iam::123456789012:policy/fraudstream-workload-boundary"
      if s.Effect == "Allow" && length(setintersection(toset(flatten([try(s.Action, [])])), toset([
        "iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary",
      ]))) > 0
    ])
    error_message = "The deploy role may create or extend a role only when it carries the workload boundary."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_policy.ci_boundary.policy).Statement :
      s.Effect == "Deny" && contains(flatten([try(s.Action, [])]), "iam:CreateRole") && contains(flatten([try(s.Action, [])]), "iam:AttachRolePolicy")
      && try(s.Condition.StringNotEquals["iam:PermissionsBoundary"], "") == "arn:aws:iam::123456789012:policy/fraudstream-workload-boundary"
    ])
    error_message = "The CI boundary denies creating or extending a role without the workload boundary."
  }

  # The workload boundary grants no IAM write: a bounded role cannot create, extend or unbound
  # anything (an Allow grants an action through Action, or through NotAction when none matches).
  assert {
    condition = !anytrue(flatten([
      for action in ["iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:CreatePolicyVersion", "iam:UpdateAssumeRolePolicy", "iam:CreateUser", "iam:CreateAccessKey"] : [
        for s in jsondecode(aws_iam_policy.workload_boundary.policy).Statement :
        s.Effect == "Allow" && (
          anytrue([for a in flatten([try(s.Action, [])]) : can(regex("^${replace(replace(lower(a), ".", "\\."), "*", ".*")}$", lower(action)))])
          || (try(s.NotAction, null) != null && !anytrue([for a in flatten([try(s.NotAction, [])]) : can(regex("^${replace(replace(lower(a), ".", "\\."), "*", ".*")}$", lower(action)))]))
        )
      ]
    ]))
    error_message = "The workload boundary must grant no IAM write."
  }

  assert {
    condition     = output.workload_boundary_arn == aws_iam_policy.workload_boundary.arn
    error_message = "The other modules get the workload boundary to put on their roles."
  }
}
