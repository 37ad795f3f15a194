"""aws_cloudwatch_metric_alarm and aws_cloudwatch_dashboard, as Infracost's ``CloudwatchMetricAlarm``
and ``CloudwatchDashboard``.

An alarm is billed per metric it evaluates: one, or each ``metric_query`` that holds a ``metric``.
Its resolution is standard when the period (the alarm's, or the first metric query's) is at least
60 seconds, else high. Anomaly-detection alarms (the band comparison operators) bill three metrics
each ("alarms"). A dashboard is a month of dashboard at one price everywhere: Infracost reads the
product whose usage type has no region prefix (``DashboardsUsageHour``), which is us-east-1's.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.kit import Monthly
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer, table_pricer

SERVICE = "AmazonCloudWatch"
STANDARD_QUERY = {"productFamily": "Alarm", "alarmType": "Standard", "usagetypeBase": "CW:AlarmMonitorUsage"}
HIGH_RESOLUTION_QUERY = {
    "productFamily": "Alarm",
    "alarmType": "High Resolution",
    "usagetypeBase": "CW:HighResAlarmMonitorUsage",
}
ANOMALY_OPERATORS = frozenset(
    {"LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold"}
)
ANOMALY_METRICS = Decimal(3)  # an anomaly detection band is billed as three metrics
STANDARD_PERIOD_SECONDS = 60
DASHBOARD_REGION = "us-east-1"


@pricer("aws_cloudwatch_metric_alarm")
def price_metric_alarm(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    queries = attrs.blocks("metric_query")
    if queries:
        with_metric = [query.block("metric") for query in queries if query.blocks("metric")]
        metrics = Decimal(len(with_metric))
        period = next((m.integer("period") for m in with_metric if m.integer("period") is not None), 0)
    else:
        metrics, period = Decimal(1), attrs.integer("period") or 0
    standard = (period or 0) >= STANDARD_PERIOD_SECONDS
    name = "Standard resolution" if standard else "High resolution"
    unit = "alarm metrics"
    if attrs.text("comparison_operator") in ANOMALY_OPERATORS:
        metrics *= ANOMALY_METRICS
        name += " anomaly detection"
        unit = "alarms"
    query = STANDARD_QUERY if standard else HIGH_RESOLUTION_QUERY
    return [ctx.prices(SERVICE).quantity(name, unit, metrics, query)]


table_pricer(
    "aws_cloudwatch_dashboard",
    service=SERVICE,
    region=DASHBOARD_REGION,
    shapes=(Monthly("Dashboard", {"productFamily": "Dashboard", "usagetypeBase": "DashboardsUsageHour"}),),
)
