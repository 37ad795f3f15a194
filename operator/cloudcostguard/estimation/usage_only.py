"""Usage-only resource types: priced from a usage-file entry alone, with no resource in the plan.

Infracost's ``aws_data_transfer`` is not a Terraform resource: a usage file names it
(``aws_data_transfer.my_region: {region: eu-west-1, monthly_outbound_internet_gb: 500}``) to add traffic
to an estimate. Each such entry becomes one resource of the estimate, unchanged by the plan (``no-op``:
its cost counts in the total and in the past total alike, so it never moves the diff), in the region its
``region`` key names (else ``DEFAULT_REGION``). An entry the plan already holds, or one with a wildcard,
adds nothing.
"""

from __future__ import annotations

from cloudcostguard.estimation.usage import WILDCARD, Usage, resource_type_of
from cloudcostguard.plan.model import Plan, ResourceChange

USAGE_ONLY_RESOURCE_TYPES: frozenset[str] = frozenset({"aws_data_transfer"})
DEFAULT_REGION = "us-east-1"
_UNCHANGED = "no-op"


def usage_only_changes(plan: Plan, usage: Usage) -> list[ResourceChange]:
    """The resources that ``usage`` adds to ``plan``, one per usage-only entry."""
    if not usage:
        return []
    planned: set[str] | None = None
    added: list[ResourceChange] = []
    for address in usage.addresses():
        resource_type = resource_type_of(address)
        if resource_type not in USAGE_ONLY_RESOURCE_TYPES or WILDCARD in address:
            continue
        if planned is None:
            planned = {change.address for change in plan.resource_changes}
        if address in planned:
            continue
        region = usage.for_resource(address, resource_type).text("region") or DEFAULT_REGION
        name = address.rsplit(".", 1)[-1]
        added.append(ResourceChange(address, resource_type, name, None, _UNCHANGED, {}, {}, {}, region))
    return added
