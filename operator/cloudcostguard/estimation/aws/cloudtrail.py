"""aws_cloudtrail: paid events recorded, as Infracost's ``Cloudtrail``; all usage-based.

The first copy of management events is free: the line is for additional copies
(``monthly_additional_management_events``), listed when the trail includes global service events
(the default) or the usage gives them. Data events are always listed; Insights events when the trail
has an ``insight_selector`` or the usage gives them.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AWSCloudTrail"
MANAGEMENT_QUERY = {"productFamily": "Management Tools - AWS CloudTrail Paid Events Recorded"}
DATA_QUERY = {"productFamily": "Management Tools - AWS CloudTrail Data Events Recorded"}
INSIGHTS_QUERY = {
    "productFamily": "Management Tools - AWS CloudTrail Insights Events",
    "usagetypeBase": "InsightsEvents",
}
_100K = Decimal(100_000)
_UNIT = "100k events"

USAGE = (
    UsageKey(
        "monthly_additional_management_events", FLOAT, "Monthly management events beyond the free copy."
    ),
    UsageKey("monthly_data_events", FLOAT, "Monthly data events recorded."),
    UsageKey("monthly_insight_events", FLOAT, "Monthly Insights events analysed."),
)


@pricer("aws_cloudtrail", usage=USAGE)
def price_cloudtrail(ctx: PricingContext) -> list[CostComponent]:
    usage = ctx.usage
    prices = ctx.prices(SERVICE)
    management = usage.decimal("monthly_additional_management_events")
    insights = usage.decimal("monthly_insight_events")
    components = []
    if ctx.attrs.flag("include_global_service_events", True) is not False or management is not None:
        components.append(
            prices.usage(
                "Management events (additional copies)", _UNIT, management, MANAGEMENT_QUERY, scale=_100K
            )
        )
    components.append(
        prices.usage("Data events", _UNIT, usage.decimal("monthly_data_events"), DATA_QUERY, scale=_100K)
    )
    if ctx.attrs.blocks("insight_selector") or insights is not None:
        components.append(prices.usage("Insight events", _UNIT, insights, INSIGHTS_QUERY, scale=_100K))
    return components
