"""One error hierarchy: every error says its condition reason and whether retrying can help, in one line."""

from __future__ import annotations

import pytest

from cloudcostguard import errors

# (class, reason, transient): the reasons are condition reasons and metric labels users see.
HIERARCHY = [
    (errors.ConfigurationError, "ConfigurationInvalid", False),
    (errors.SpecError, "SpecInvalid", False),
    (errors.PlanError, "PlanInvalid", False),
    (errors.PlanTooLargeError, "PlanTooLarge", False),
    (errors.PlanSourceError, "PlanNotFound", True),
    (errors.UsageError, "UsageInvalid", False),
    (errors.PricingError, "PricingUnavailable", True),
    (errors.OfferFileError, "OfferFileInvalid", False),
    (errors.PolicyError, "PolicyInvalid", False),
]


@pytest.mark.parametrize(("cls", "reason", "transient"), HIERARCHY, ids=lambda v: getattr(v, "__name__", v))
def test_each_error_carries_its_reason_and_retry_meaning(
    cls: type[errors.CloudCostGuardError], reason: str, transient: bool
) -> None:
    error = cls("something went wrong")
    assert isinstance(error, errors.CloudCostGuardError)
    assert (error.reason, error.transient) == (reason, transient)


def test_a_reason_can_be_given_for_one_error_without_changing_its_class() -> None:
    error = errors.PricingError("estimate took too long", reason="EstimateTimeout")
    assert (error.reason, errors.PricingError.reason, error.transient) == (
        "EstimateTimeout",
        "PricingUnavailable",
        True,
    )


def test_messages_are_one_line() -> None:
    error = errors.PlanError("plan is not valid JSON:\n  unexpected   character\n")
    assert str(error) == "plan is not valid JSON: unexpected character"
    assert error.message.startswith("plan is not valid JSON:\n")  # the original stays available


def test_a_too_large_plan_is_a_plan_error() -> None:
    assert issubclass(errors.PlanTooLargeError, errors.PlanError)
    assert issubclass(errors.OfferFileError, errors.PricingError)
