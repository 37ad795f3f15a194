"""One error hierarchy for the whole product.

The core raises these; the edges map them: the CLI to exit codes, kopf handlers to
``TemporaryError``/``PermanentError`` and conditions, the webhook to HTTP-style codes.
Each error carries a ``reason`` (a CamelCase word used as a Kubernetes condition reason)
and says whether retrying can help (``transient``).
"""

from __future__ import annotations


class CloudCostGuardError(Exception):
    """Base of every error this product raises on purpose."""

    reason: str = "Error"
    transient: bool = False

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        # One line, always: CLI errors, condition messages and admission messages are single lines.
        return " ".join(self.message.split())


class ConfigurationError(CloudCostGuardError):
    """A setting or flag has a bad value."""

    reason = "ConfigurationInvalid"


class SpecError(CloudCostGuardError):
    """A CostEstimate's spec does not have the shape of the API (the CRD schema normally refuses it)."""

    reason = "SpecInvalid"


class PlanError(CloudCostGuardError):
    """The Terraform plan cannot be read: not JSON, not a plan, wrong shapes, too large."""

    reason = "PlanInvalid"


class PlanTooLargeError(PlanError):
    reason = "PlanTooLarge"


class PlanSourceError(CloudCostGuardError):
    """The plan a CostEstimate points at cannot be fetched (missing object, key, URL error)."""

    reason = "PlanNotFound"
    transient = True


class ThrottledError(CloudCostGuardError):
    """A per-namespace limit (reconcile slots, URL fetch slots or rate) was not free in time: nothing is
    wrong with the object, it is looked at again after ``retry_after`` seconds."""

    reason = "Throttled"
    transient = True

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UsageError(CloudCostGuardError):
    """The usage file or ``spec.usage`` is malformed."""

    reason = "UsageInvalid"


class PricingError(CloudCostGuardError):
    """Prices cannot be had: store down, snapshot corrupt, offer file bad."""

    reason = "PricingUnavailable"
    transient = True


class OfferFileError(PricingError):
    """An AWS Price List offer file is corrupt, of the wrong format or for an unknown service."""

    reason = "OfferFileInvalid"
    transient = False


class PolicyError(CloudCostGuardError):
    """A CostPolicy is malformed (bad money string, bad selector)."""

    reason = "PolicyInvalid"


class StatusWriteError(CloudCostGuardError):
    """The Kubernetes API refused or failed a status write (409, 5xx, timeout, connection lost)."""

    reason = "StatusWriteFailed"
    transient = True
