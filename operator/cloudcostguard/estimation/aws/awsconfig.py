"""aws_config_config_rule: AWS Config rule evaluations (``monthly_rule_evaluations``), as Infracost's
``ConfigConfigRule``: bands of 100K and 400K then the rest, each at the tier starting there."""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.aws.usage_tiers import Buckets, bucket_lines
from cloudcostguard.estimation.kit import INTEGER, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AWSConfig"
EVALUATIONS_QUERY = {
    "productFamily": "Management Tools - AWS Config Rules",
    "usagetypeBase": "ConfigRuleEvaluations",
}
EVALUATION_BUCKETS = Buckets(
    ("Rule evaluations (first 100K)", "Rule evaluations (next 400K)", "Rule evaluations (over 500K)"),
    (Decimal(100_000), Decimal(400_000)),
    (Decimal(0), Decimal(100_000), Decimal(500_000)),
)

USAGE = (UsageKey("monthly_rule_evaluations", INTEGER, "Monthly evaluations of the rule."),)


@pricer("aws_config_config_rule", usage=USAGE)
def price_config_rule(ctx: PricingContext) -> list[CostComponent]:
    price = ctx.prices(SERVICE).find(EVALUATIONS_QUERY)
    return bucket_lines(
        EVALUATION_BUCKETS, "evaluations", ctx.usage.decimal("monthly_rule_evaluations"), price
    )
