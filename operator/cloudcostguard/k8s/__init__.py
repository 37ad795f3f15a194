"""Kubernetes edge: CRD models, kopf handlers, admission webhook, indexes."""
