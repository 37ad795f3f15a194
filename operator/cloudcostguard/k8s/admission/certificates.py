"""The webhook's self-signed pair for local runs: the generator shared with ``/metrics``, in
``cloudcostguard.k8s.certificates`` (the operator and the webhook import nothing from each other)."""

from __future__ import annotations

from cloudcostguard.k8s.certificates import CLOCK_SKEW, VALIDITY, CertificatePaths, generate_self_signed

__all__ = ["CLOCK_SKEW", "VALIDITY", "CertificatePaths", "generate_self_signed"]
