"""aws_globalaccelerator_accelerator: the accelerator's fixed hourly fee.

Infracost prices the fixed fee at a custom price typed into its code (its pricing database has no
product for it), which we never do: the fee is looked up in the AWSGlobalAccelerator offer, filed under
the ``global`` region, usage type ``GlobalAccelerator-Hours``, and is reported price-not-found when the
catalog has none. Both are assumptions (no offer-file excerpt of the service is in our samples and
Infracost names no product): a store loaded with the real offer shows whether they hold. Data transfer
premium (DT-Premium) depends on traffic and is not priced, as in Infracost.
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import Hourly
from cloudcostguard.estimation.registry import table_pricer

SERVICE = "AWSGlobalAccelerator"
GLOBAL_REGION = "global"  # an accelerator is not in a region

table_pricer(
    "aws_globalaccelerator_accelerator",
    service=SERVICE,
    region=GLOBAL_REGION,
    shapes=(Hourly("Fixed fee", {"usagetypeBase": "GlobalAccelerator-Hours"}),),
)
