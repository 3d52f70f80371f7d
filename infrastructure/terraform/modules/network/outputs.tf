output "vpc_id" {
  description = "VPC id."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "VPC CIDR."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets (EKS nodes, SageMaker)."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Public subnets (NAT gateways, internet-facing load balancers)."
  value       = aws_subnet.public[*].id
}

output "s3_prefix_list_id" {
  description = "Prefix list of S3 in the region (its gateway endpoint's routes); security groups allow HTTPS to it."
  value       = aws_vpc_endpoint.gateway["s3"].prefix_list_id
}
