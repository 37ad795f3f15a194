"""aws_glue_job and aws_glue_crawler: AWS Glue DPU-hours (usage ``monthly_hours``), as Infracost's
``GlueJob`` and ``GlueCrawler``.

A job runs on ``max_capacity`` DPUs (default 1), or ``number_of_workers`` workers of one DPU each
(two for ``G.2X``). Its line is shown per hour of the job ("hours (10 DPUs)"): the hour's price is
the DPUs times the DPU-hour rate. A crawler is billed per DPU-hour of crawling.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AWSGlue"
JOB_QUERY = {"productFamily": "AWS Glue", "group": "ETL Job run"}
CRAWLER_QUERY = {"productFamily": "AWS Glue", "operation": "CrawlerRun"}
DOUBLE_DPU_WORKER = "g.2x"
DEFAULT_DPUS = Decimal(1)

USAGE = (UsageKey("monthly_hours", FLOAT, "Monthly hours the job or crawler runs."),)


def _dpus(ctx: PricingContext) -> Decimal:
    attrs = ctx.attrs
    workers = attrs.decimal("number_of_workers")
    if workers is not None and workers > 0:
        per_worker = 2 if (attrs.text("worker_type") or "").lower() == DOUBLE_DPU_WORKER else 1
        return workers * per_worker
    capacity = attrs.decimal("max_capacity")
    return capacity if capacity is not None and capacity > 0 else DEFAULT_DPUS


def _unit(dpus: Decimal) -> str:
    """Infracost's unit: "hours (10 DPUs)", "hours (1 DPU)", "hours (0.0625 DPUs)"."""
    if dpus < 1:
        return f"hours ({dpus:.4f} DPUs)"
    return f"hours ({int(dpus)} {'DPU' if dpus == 1 else 'DPUs'})"


@pricer("aws_glue_job", usage=USAGE)
def price_glue_job(ctx: PricingContext) -> list[CostComponent]:
    dpus = _dpus(ctx)
    unit = _unit(dpus)
    hours = ctx.usage.decimal("monthly_hours")
    dpu_hours = None if hours is None else hours * dpus
    return [ctx.prices(SERVICE).usage("Duration", unit, dpu_hours, JOB_QUERY, scale=dpus)]


@pricer("aws_glue_crawler", usage=USAGE)
def price_glue_crawler(ctx: PricingContext) -> list[CostComponent]:
    hours = ctx.usage.decimal("monthly_hours")
    return [ctx.prices(SERVICE).usage("Duration", "hours", hours, CRAWLER_QUERY)]
