"""Application Auto Scaling targets (``aws_appautoscaling_target``) that scale a priced resource.

A target costs nothing itself; it changes what the resource it scales runs: a DynamoDB table's read
and write capacity, an ElastiCache replication group's shards and replicas. As Infracost does, such
a resource is priced at the target's usage key ``capacity`` when the usage file gives one (what it
runs at on average), else at its ``min_capacity`` (the capacity it never goes below), under a
component name marked ``autoscaling``.

A target is found two ways, as in Infracost:

* through the plan's configuration references: its ``resource_id`` expression refers to the resource
  (``resource_id = "table/${aws_dynamodb_table.scores.name}"``). Where both the target's
  ``resource_id`` and the resource's own id (``table/<name>``) are known, they must agree (this pairs
  counted or ``for_each`` targets with their resources); otherwise instance keys pair them;
* by value: a target whose ``resource_id`` refers to no managed resource (a literal
  ``"table/scores"``, a variable, a data source) scales every resource of the plan whose own id is
  that value. A target linked by reference is never also matched by value, so none counts twice
  (Infracost, too, falls back on values only when the configuration names no resource).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cloudcostguard.estimation.aws import linked
from cloudcostguard.estimation.registry import PricingContext

TARGET_TYPE = "aws_appautoscaling_target"
CAPACITY_USAGE_KEY = "capacity"


@dataclass(frozen=True, slots=True)
class ScalingTarget:
    address: str
    dimension: str | None  # e.g. "dynamodb:table:WriteCapacityUnits"
    # The capacity the resource is priced at: the target's usage `capacity`, else its `min_capacity`;
    # None when neither is known at plan time or a usable number.
    capacity: Decimal | None


def scaling_targets(ctx: PricingContext, id_attribute: str, id_prefix: str = "") -> list[ScalingTarget]:
    """The targets that scale ``ctx``'s resource, whose own id is ``id_prefix`` + its attribute
    ``id_attribute`` when known (``table/`` + ``name``).

    The id is read only when the plan changes any target (one set lookup; a target only in
    configuration, without a change, scales nothing: its references lead to no change). An id read is
    a memo key part (``memo``), and ids are unique: read for nothing, it left every side a miss."""
    references = ctx.references
    if references is None or not references.has_type(TARGET_TYPE):
        return []
    own_id = ctx.attrs.text(id_attribute)
    resource_id = f"{id_prefix}{own_id}" if own_id else None
    found: list[ScalingTarget] = []
    seen: set[str] = set()
    for target in linked.referrers(ctx, (TARGET_TYPE, "resource_id"), every_instance=True):
        their_id = target.attrs.text("resource_id")
        if resource_id is not None and their_id is not None:
            if their_id != resource_id:
                continue  # it scales another instance of this resource
        elif not linked.key_matches(ctx, target):
            continue
        seen.add(target.address)
        found.append(_scaling_target(ctx, target))
    for target in linked.by_value(ctx, (TARGET_TYPE, "resource_id"), resource_id):
        if target.address not in seen:
            seen.add(target.address)
            found.append(_scaling_target(ctx, target))
    return found


def _scaling_target(ctx: PricingContext, target: linked.Linked) -> ScalingTarget:
    capacity = None
    if ctx.usage_of is not None:
        # A negative capacity is rejected by the usage reader with the target's address.
        capacity = ctx.usage_of(target.address, TARGET_TYPE).decimal(CAPACITY_USAGE_KEY)
    if capacity is None:
        minimum = target.attrs.decimal("min_capacity")
        capacity = minimum if minimum is not None and minimum >= 0 else None
    return ScalingTarget(target.address, target.attrs.text("scalable_dimension"), capacity)
