# The EKS module with a mocked provider: private API by default, encrypted secrets, IMDSv2 with
# hop limit 1 (pods must use IRSA, not the node role), OIDC for IRSA, admin access entries.

mock_provider "aws" {
  mock_resource "aws_eks_cluster" {
    defaults = {
      arn                   = "arn:aws:eks:us-east-1:123456789012:cluster/fraudstream"
      identity              = [{ oidc = [{ issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE" }] }]
      certificate_authority = [{ data = "Q0E=" }]
    }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_launch_template" {
    defaults = { id = "lt-0123456789abcdef0", latest_version = 1 }
  }
}

variables {
  name       = "fraudstream"
  account_id = "123456789012"
  region     = "us-east-1"
  subnet_ids = ["subnet-aaaa", "subnet-bbbb"]
  admin_principals = {
    ci-deploy = "arn:aws:iam::123456789012:role/fraudstream-ci-deploy"
  }
}

run "private_encrypted_cluster" {
  command = apply

  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_public_access == false && aws_eks_cluster.this.vpc_config[0].endpoint_private_access
    error_message = "With no public CIDRs the API endpoint is private only."
  }

  assert {
    condition     = one(aws_eks_cluster.this.encryption_config[0].resources) == "secrets"
    error_message = "Kubernetes secrets are envelope-encrypted with KMS."
  }

  assert {
    condition     = length(aws_eks_cluster.this.enabled_cluster_log_types) == 5
    error_message = "Every control-plane log type is enabled."
  }

  assert {
    condition     = aws_launch_template.node.metadata_options[0].http_tokens == "required" && aws_launch_template.node.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "Nodes require IMDSv2 with hop limit 1, so pods cannot use the node role."
  }

  assert {
    condition     = aws_launch_template.node.block_device_mappings[0].ebs[0].encrypted == "true"
    error_message = "Node volumes are encrypted."
  }

  assert {
    condition     = aws_iam_openid_connect_provider.this.url == "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE" && contains(aws_iam_openid_connect_provider.this.client_id_list, "sts.amazonaws.com")
    error_message = "The OIDC provider for IRSA trusts the cluster's issuer for STS."
  }

  assert {
    condition     = output.oidc_issuer == "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
    error_message = "The issuer output has no scheme (IRSA condition keys are host/path)."
  }

  assert {
    condition     = aws_eks_access_policy_association.admin["ci-deploy"].principal_arn == "arn:aws:iam::123456789012:role/fraudstream-ci-deploy"
    error_message = "The CD deploy role gets an access entry."
  }

  assert {
    condition     = length(aws_eks_node_group.default.remote_access) == 0
    error_message = "Nodes accept no SSH."
  }

  assert {
    condition     = aws_eks_addon.vpc_cni.addon_name == "vpc-cni" && jsondecode(aws_eks_addon.vpc_cni.configuration_values).enableNetworkPolicy == "true"
    error_message = "The VPC CNI enforces NetworkPolicies (its network-policy agent is on); without it they are ignored."
  }
}

run "public_endpoint_only_for_listed_cidrs" {
  command = plan

  variables {
    public_access_cidrs = ["203.0.113.0/24"]
  }

  assert {
    condition     = aws_eks_cluster.this.vpc_config[0].endpoint_public_access && aws_eks_cluster.this.vpc_config[0].public_access_cidrs == toset(["203.0.113.0/24"])
    error_message = "The public endpoint opens only to the listed CIDRs."
  }
}

run "rejects_an_open_api_endpoint" {
  command = plan

  variables {
    public_access_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.public_access_cidrs]
}

run "rejects_inconsistent_node_counts" {
  command = plan

  variables {
    node_min     = 4
    node_desired = 2
  }

  expect_failures = [aws_eks_node_group.default]
}
