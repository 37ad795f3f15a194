"""aws_sfn_state_machine: Step Functions, as Infracost's ``SFnStateMachine``.

Standard workflows (the default ``type``) pay per state transition (``monthly_transitions``). Express
workflows pay per request (``monthly_requests``) and per GB-second of duration, in Infracost's bands
(first 1,000 GB-hours, next 4,000, then the rest) priced at the tiers starting there. Duration follows
Infracost: memory rounded up to 64 MB steps (at least 64 MB), duration up to 100 ms steps; no
duration line without requests, duration and memory all given (then the first band without usage).
"""

from __future__ import annotations

import math
from decimal import Decimal

from cloudcostguard.estimation.aws.usage_tiers import Buckets, bucket_lines
from cloudcostguard.estimation.kit import INTEGER, MILLION, THOUSAND, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonStates"
TRANSITIONS_QUERY = {"productFamily": "AWS Step Functions", "usagetypeBase": "StateTransition"}
REQUESTS_QUERY = {"productFamily": "AWS Step Functions", "usagetypeBase": "StepFunctions-Request"}
DURATION_QUERY = {"usagetypeBase": "StepFunctions-GB-Second"}
SECONDS_PER_HOUR = Decimal(3600)
# GB-seconds: the first 1,000 GB-hours, the next 4,000, the rest.
DURATION_BUCKETS = Buckets(
    ("Duration (first 1K)", "Duration (next 4K)", "Duration (over 5K)"),
    (Decimal(3_600_000), Decimal(14_400_000)),
    (Decimal(0), Decimal(3_600_000), Decimal(18_000_000)),
)
_MEMORY_STEP_MB = 64
_DURATION_STEP_MS = 100
_MB_PER_GB = Decimal(1024)

USAGE = (
    UsageKey("monthly_requests", INTEGER, "Express: monthly workflow requests."),
    UsageKey("workflow_duration_ms", INTEGER, "Express: average workflow duration (ms)."),
    UsageKey("memory_mb", INTEGER, "Express: memory a workflow uses (MB)."),
    UsageKey("monthly_transitions", INTEGER, "Standard: monthly state transitions."),
)


@pricer("aws_sfn_state_machine", usage=USAGE)
def price_sfn_state_machine(ctx: PricingContext) -> list[CostComponent]:
    prices = ctx.prices(SERVICE)
    usage = ctx.usage
    if (ctx.attrs.text("type") or "STANDARD").upper() != "EXPRESS":
        transitions = usage.decimal("monthly_transitions")
        return [prices.usage("Transitions", "1K transitions", transitions, TRANSITIONS_QUERY, scale=THOUSAND)]
    requests = usage.decimal("monthly_requests")
    duration_ms = usage.decimal("workflow_duration_ms")
    memory_mb = usage.decimal("memory_mb")
    gb_seconds = None
    if requests is not None and duration_ms is not None and memory_mb is not None:
        memory = Decimal(
            math.ceil(max(memory_mb, Decimal(_MEMORY_STEP_MB)) / _MEMORY_STEP_MB) * _MEMORY_STEP_MB
        )
        duration = Decimal(math.ceil(duration_ms / _DURATION_STEP_MS) * _DURATION_STEP_MS)
        gb_seconds = requests * duration / THOUSAND * memory / _MB_PER_GB
    return [
        prices.usage("Requests", "1M requests", requests, REQUESTS_QUERY, scale=MILLION),
        *bucket_lines(
            DURATION_BUCKETS,
            "GB-hours",
            gb_seconds,
            prices.find(DURATION_QUERY),
            scale=SECONDS_PER_HOUR,
        ),
    ]
