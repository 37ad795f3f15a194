"""The Kubernetes edge, by the folder:

- ``api/``: the CRD models (the schema source), ``crdgen`` (``crds/*.yaml``) and status conditions.
- ``cluster/``: what the operator and the webhook both read — the kopf indexes and their one
  ``ClusterState`` view, the plan sources a CostEstimate points at, and the one path from a
  CostEstimate spec to an ``Estimate``.
- ``operator/``: the kopf handlers, the reconcile loops and their wake-ups, status writing, CostPolicy
  status, leader election, the operator's runtime.
- ``admission/``: the validating handlers, the decision, the lean AdmissionReview path, the HTTPS
  server, certificates.
- ``memo``: kopf's memo, typed; ``process``: the two sides composed into ``cloudcostguard run``;
  ``testing``: an in-memory ``ClusterState`` for tests and benchmarks.

``operator`` and ``admission`` never import each other (an import-linter contract in ``make lint``).
"""
