"""What the operator and the webhook both read: the cluster-state view over kopf's indexes, the plan
sources a CostEstimate points at, and the one path from a CostEstimate spec to an ``Estimate``."""
