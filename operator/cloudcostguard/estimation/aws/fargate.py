"""Fargate: ``aws_eks_fargate_profile`` (and the vCPU/memory rates ECS services on Fargate pay).

A Fargate profile bills nothing itself: its pods pay per vCPU-hour and GB-hour. As Infracost does, a
profile is priced as one vCPU and one GB running all month ("Per vCPU per hour", "Per GB per hour":
quantity in units, price the hourly rate × hours per month), the smallest pod a profile runs; it
declares no usage keys (Infracost's has none).
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import HourlyUnits
from cloudcostguard.estimation.registry import table_pricer

EKS_SERVICE = "AmazonEKS"  # EKS on Fargate is sold under the EKS offer
EKS_MEMORY = {"productFamily": "Compute", "usagetypeBase": "Fargate-GB-Hours"}
EKS_VCPU = {"productFamily": "Compute", "usagetypeBase": "Fargate-vCPU-Hours:perCPU"}

table_pricer(
    "aws_eks_fargate_profile",
    service=EKS_SERVICE,
    shapes=(
        HourlyUnits("Per GB per hour", "GB", EKS_MEMORY),
        HourlyUnits("Per vCPU per hour", "CPU", EKS_VCPU),
    ),
)
