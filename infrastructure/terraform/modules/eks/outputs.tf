output "cluster_name" {
  description = "EKS cluster name."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "EKS cluster ARN."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "Kubernetes API URL (spark-submit --master k8s://<this>)."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_ca" {
  description = "Base64 CA bundle of the API server."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}

output "oidc_provider_arn" {
  description = "IAM OIDC provider of the cluster (IRSA trust policies name it)."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_issuer" {
  description = "Issuer URL without https:// (the prefix of IRSA condition keys)."
  value       = replace(local.oidc_issuer, "https://", "")
}

output "node_role_arn" {
  description = "Node IAM role."
  value       = aws_iam_role.node.arn
}

output "service_cidr" {
  description = "The cluster's Service CIDR (kubernetes.default.svc lives in it; network policies allow it)."
  value       = aws_eks_cluster.this.kubernetes_network_config[0].service_ipv4_cidr
}
