"""aws_mwaa_environment: Amazon Managed Workflows for Apache Airflow, as Infracost's ``MWAAEnvironment``.

The environment class (``environment_class``, default ``mw1.small``) sets the size of the environment,
of its additional workers and schedulers (usage ``additional_workers``, ``additional_schedulers``:
average counts, billed every hour) and the meta database storage (``meta_database_gb``).
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonMWAA"
DEFAULT_CLASS = "mw1.small"
DATABASE_QUERY = {"usagetypeBase": "Airflow-StandardDatabaseStorage"}

USAGE = (
    UsageKey("additional_workers", FLOAT, "Average workers beyond the environment's own."),
    UsageKey("additional_schedulers", FLOAT, "Average schedulers beyond the environment's own."),
    UsageKey("meta_database_gb", FLOAT, "Meta database storage (GB)."),
)


@pricer("aws_mwaa_environment", usage=USAGE)
def price_mwaa_environment(ctx: PricingContext) -> list[CostComponent]:
    size = (ctx.attrs.text("environment_class") or DEFAULT_CLASS).lower().removeprefix("mw1.").title()
    prices = ctx.prices(SERVICE)
    usage = ctx.usage
    components = [prices.hourly(f"Environment ({size})", {"size": size, "type": "Environment"})]
    for kind, key in (("Worker", "additional_workers"), ("Scheduler", "additional_schedulers")):
        count = usage.decimal(key)
        hours = None if count is None else count * prices.hours
        components.append(prices.usage(f"{kind} ({size})", "hours", hours, {"size": size, "type": kind}))
    components.append(prices.usage("Meta database", "GB", usage.decimal("meta_database_gb"), DATABASE_QUERY))
    return components
