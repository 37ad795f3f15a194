"""Terraform plan JSON (``terraform show -json``): reading, validation, addresses and regions."""

from cloudcostguard.plan.model import Plan, ResourceChange
from cloudcostguard.plan.reader import read_plan

__all__ = ["Plan", "ResourceChange", "read_plan"]
