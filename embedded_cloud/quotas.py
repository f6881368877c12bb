"""Embedded cloud room: the AWS quotas a berth stack consumes, as a fresh account has them.

One table, read by the embedded cloud's Service Quotas (handlers/servicequotas.py teaches moto
these defaults) and by berth/operations/quotas.py (what a stack needs against each, what the
account allows). No moto here: operations import it at no start-up cost.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AwsQuota:
    service_code: str
    quota_code: str
    name: str
    default: float
    # "region" (per Region), "zone" (per Availability Zone) or "account" (global; asked in us-east-1).
    scope: str
    source: str


_VPC = "Amazon VPC quotas, https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html"
_EC2 = "Amazon EC2 service quotas, https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html"
# The quotas a berth stack consumes, keyed by what berth calls them. Defaults are AWS's for a new
# account (Service Quotas' "AWS default quota value"), read 2026-12-08.
AWS_QUOTAS: dict[str, AwsQuota] = {
    "vpcs": AwsQuota("vpc", "L-F678F1CE", "VPCs per Region", 5, "region", _VPC),
    "internet-gateways": AwsQuota("vpc", "L-A4707A72", "Internet gateways per Region", 5, "region", _VPC),
    "nat-gateways": AwsQuota("vpc", "L-FE5A380F", "NAT gateways per Availability Zone", 5, "zone", _VPC),
    "elastic-ips": AwsQuota("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs", 5, "region",
                            "Amazon EC2 user guide, Elastic IP address quota (5 per Region)"),
    "on-demand-vcpus": AwsQuota("ec2", "L-1216C47A",
                                "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", 5, "region", _EC2),
    "spot-vcpus": AwsQuota("ec2", "L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
                           5, "region", _EC2),
    "eks-clusters": AwsQuota("eks", "L-1194D53C", "Clusters", 100, "region",
                             "Amazon EKS service quotas, https://docs.aws.amazon.com/eks/latest/userguide/service-quotas.html"),
    "rds-instances": AwsQuota("rds", "L-7B6409FD", "DB instances", 40, "region",
                              "Amazon RDS quotas, https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html"),
    "elasticache-nodes": AwsQuota("elasticache", "L-DFE45DF3", "Nodes per Region", 300, "region",
                                  "Amazon ElastiCache quotas, https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/quota-limits.html"),
    "network-load-balancers": AwsQuota("elasticloadbalancing", "L-69A177A2", "Network Load Balancers per Region", 50,
                                       "region", "Elastic Load Balancing quotas, https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-limits.html"),
    "cloudfront-distributions": AwsQuota("cloudfront", "L-24B04930", "Web distributions per AWS account", 200,
                                         "account", "CloudFront quotas, https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html"),
}
