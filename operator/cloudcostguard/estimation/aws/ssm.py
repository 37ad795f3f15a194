"""Systems Manager: aws_ssm_parameter (advanced tier) and aws_ssm_activation (advanced instances).

As Infracost's ``SSMParameter`` and ``SSMActivation``:

* Standard parameters are free. An advanced parameter (``tier`` ``Advanced``, or ``Intelligent-
  Tiering`` taken as advanced too, as Infracost treats any tier but standard) costs storage hours
  (``parameter_storage_hrs``, default every hour of the month) and API interactions
  (``monthly_api_interactions``), named by ``api_throughput_limit`` (default: the tier).
* An activation registers on-premises instances: free in the standard tier; in the advanced tier
  (usage ``instance_tier``, or a ``registration_limit`` above 1,000) each instance (``instances``)
  is billed every hour.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.kit import INTEGER, STRING, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AWSSystemsManager"
STORAGE_QUERY = {"productFamily": "AWS Systems Manager", "usagetypeBase": "PS-Advanced-Param-Tier1"}
INTERACTIONS_QUERY = {"productFamily": "API Request", "usagetypeBase": "PS-Param-Processed-Tier2"}
INSTANCES_QUERY = {"productFamily": "AWS Systems Manager", "usagetypeBase": "MI-AdvInstances-Hrs"}
THROUGHPUT_LIMITS = frozenset({"standard", "advanced", "higher"})
STANDARD_REGISTRATION_LIMIT = 1000
_10K = Decimal(10_000)

PARAMETER_USAGE = (
    UsageKey(
        "parameter_storage_hrs", INTEGER, "Hours the advanced parameter is stored a month (default 730)."
    ),
    UsageKey("api_throughput_limit", STRING, "API throughput: standard, advanced or higher."),
    UsageKey("monthly_api_interactions", INTEGER, "Monthly API interactions with the parameter."),
)
ACTIVATION_USAGE = (
    UsageKey("instance_tier", STRING, "Managed instance tier: standard or advanced."),
    UsageKey("instances", INTEGER, "On-premises instances registered by the activation."),
)


@pricer("aws_ssm_parameter", usage=PARAMETER_USAGE)
def price_ssm_parameter(ctx: PricingContext) -> list[CostComponent]:
    tier = (ctx.attrs.text("tier") or "standard").lower()
    if tier == "standard":
        return []
    usage = ctx.usage
    throughput = (usage.text("api_throughput_limit") or tier).lower()
    if throughput not in THROUGHPUT_LIMITS:
        throughput = tier
    hours = usage.decimal("parameter_storage_hrs")
    prices = ctx.prices(SERVICE)
    return [
        prices.usage(
            "Parameter storage (advanced)",
            "hours",
            hours if hours is not None else prices.hours,
            STORAGE_QUERY,
        ),
        prices.usage(
            f"API interactions ({throughput})",
            "10k interactions",
            usage.decimal("monthly_api_interactions"),
            INTERACTIONS_QUERY,
            scale=_10K,
        ),
    ]


@pricer("aws_ssm_activation", usage=ACTIVATION_USAGE)
def price_ssm_activation(ctx: PricingContext) -> list[CostComponent]:
    tier = ctx.usage.text("instance_tier")
    if tier is None:
        limit = ctx.attrs.integer("registration_limit")
        tier = "advanced" if limit is not None and limit > STANDARD_REGISTRATION_LIMIT else "standard"
    if tier.lower() != "advanced":
        return []
    prices = ctx.prices(SERVICE)
    instances = ctx.usage.decimal("instances")
    hours = None if instances is None else instances * prices.hours
    return [prices.usage("On-prem managed instances (advanced)", "hours", hours, INSTANCES_QUERY)]
