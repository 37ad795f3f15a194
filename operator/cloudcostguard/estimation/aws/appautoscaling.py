"""Application Auto Scaling targets (``aws_appautoscaling_target``) that scale a priced resource.

A target costs nothing itself; it changes what the resource it scales runs: a DynamoDB table's read
and write capacity, an ElastiCache replication group's shards and replicas. As Infracost does, such
a resource is priced at the target's ``min_capacity`` (the capacity it never goes below) under a
component name marked ``autoscaling``.

A target is found through the plan's configuration references: its ``resource_id`` expression
refers to the resource (``resource_id = "table/${aws_dynamodb_table.scores.name}"``). Where both the
target's ``resource_id`` and the resource's own id (``table/<name>``) are known, they must agree (this
pairs counted or ``for_each`` targets with their resources); otherwise instance keys pair them.

Not (yet) like Infracost: a target's usage key ``capacity`` overrides ``min_capacity`` there, but a
pricer only sees its own resource's usage; and a target whose ``resource_id`` is a literal string
(``"table/scores"``, no reference) is matched by Infracost by value, which needs the plan's targets by
type. Both wait on the estimation core (see the estimator's proposals); meanwhile such a resource is
priced at its own configured capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cloudcostguard.estimation.aws import linked
from cloudcostguard.estimation.registry import PricingContext

TARGET_TYPE = "aws_appautoscaling_target"


@dataclass(frozen=True, slots=True)
class ScalingTarget:
    address: str
    dimension: str | None  # e.g. "dynamodb:table:WriteCapacityUnits"
    min_capacity: Decimal | None  # None when unknown at plan time or not a usable number


def scaling_targets(ctx: PricingContext, resource_id: str | None) -> list[ScalingTarget]:
    """The targets that scale ``ctx``'s resource, whose own id is ``resource_id`` when known."""
    found: list[ScalingTarget] = []
    for target in linked.referrers(ctx, (TARGET_TYPE, "resource_id"), every_instance=True):
        their_id = target.attrs.text("resource_id")
        if resource_id is not None and their_id is not None:
            if their_id != resource_id:
                continue  # it scales another instance of this resource
        elif not linked.key_matches(ctx, target):
            continue
        minimum = target.attrs.decimal("min_capacity")
        found.append(
            ScalingTarget(
                target.address,
                target.attrs.text("scalable_dimension"),
                minimum if minimum is not None and minimum >= 0 else None,
            )
        )
    return found
