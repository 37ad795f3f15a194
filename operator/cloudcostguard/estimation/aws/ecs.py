"""aws_ecs_service on Fargate: the vCPU and memory its tasks hold, all month.

As Infracost prices it (``internal/providers/terraform/aws/ecs_service.go``):

* **Launch type.** ``launch_type``; else the service's ``capacity_provider_strategy`` (the first entry
  with a base or weight: ``FARGATE``/``FARGATE_SPOT`` → Fargate, another provider → EC2); else its
  ``cluster`` (a reference to an ``aws_ecs_cluster`` of the plan): the cluster's default strategy or
  capacity providers, then those of the ``aws_ecs_cluster_capacity_providers`` naming the cluster. A
  service that does not run on Fargate has no components: its cost is its container instances'
  (an autoscaling group's, priced there).
* **Size.** The ``aws_ecs_task_definition`` its ``task_definition`` refers to, or the one of an
  ``aws_ecs_task_set`` whose ``service`` refers to it: ``cpu`` and ``memory`` as "1 vCPU" / "2 GB" or in
  CPU units / MiB ("1024" = 1 vCPU, "2048" = 2 GB), times ``desired_count``. "Per vCPU per hour" and
  "Per GB per hour" show units held all month, priced at the hourly rate × hours per month. A task
  definition's ``inference_accelerator`` adds its hours (``Inference accelerator (TYPE)``).
* **Ephemeral storage** (beyond Infracost, which leaves it out): ``ephemeral_storage.size_in_gib``
  above the 20 GB every task gets free, per task, as "Ephemeral storage (above 20 GB)" at the
  ``Fargate-EphemeralStorage-GB-Hours`` rate.

Fargate Spot and ARM64 are not priced separately (Infracost does not either): tasks are priced at the
x86 on-demand rates. No usage keys (Infracost's has none).
``aws_ecs_task_definition``, ``aws_ecs_task_set``, ``aws_ecs_cluster`` and its capacity providers
are free: what they describe is priced here.
"""

from __future__ import annotations

import re
from decimal import Decimal

from cloudcostguard.estimation.attributes import Attributes, to_decimal
from cloudcostguard.estimation.aws import linked
from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonECS"
MEMORY = {"productFamily": "Compute", "usagetypeBase": "Fargate-GB-Hours"}
VCPU = {"productFamily": "Compute", "usagetypeBase": "Fargate-vCPU-Hours:perCPU"}
EPHEMERAL_STORAGE = {"productFamily": "Compute", "usagetypeBase": "Fargate-EphemeralStorage-GB-Hours"}
# Every Fargate task gets 20 GiB of ephemeral storage at no charge; only what is configured above it is
# billed (AWS Fargate pricing).
FREE_EPHEMERAL_STORAGE_GB = Decimal(20)
INFERENCE_SERVICE = "AmazonEI"
FARGATE = "FARGATE"
# Task sizes without a unit are CPU units (1,024 per vCPU) and MiB (1,024 per GB).
UNITS_PER_WHOLE = Decimal(1024)
_UNIT = re.compile(r"(?i)vcpu|gb")


@pricer("aws_ecs_service")
def price_ecs_service(ctx: PricingContext) -> list[CostComponent]:
    if launch_type(ctx) != FARGATE:
        return []
    count = ctx.attrs.decimal("desired_count")
    count = count if count is not None and count > 0 else Decimal(0)
    task = task_definition(ctx)
    vcpu = memory = storage = Decimal(0)
    accelerator = None
    if task is not None:
        memory = task_size(task.text("memory"))
        vcpu = task_size(task.text("cpu"))
        accelerator = task.block("inference_accelerator").text("device_type")
        configured = task.block("ephemeral_storage").decimal("size_in_gib")
        if configured is not None and configured > FREE_EPHEMERAL_STORAGE_GB:
            storage = configured - FREE_EPHEMERAL_STORAGE_GB
    prices = ctx.prices(SERVICE)
    components = [
        priced("Per GB per hour", "GB", memory * count, prices.find(MEMORY), unit_scale=prices.hours),
        priced("Per vCPU per hour", "CPU", vcpu * count, prices.find(VCPU), unit_scale=prices.hours),
    ]
    if storage > 0:
        components.append(
            priced(
                "Ephemeral storage (above 20 GB)",
                "GB",
                storage * count,
                prices.find(EPHEMERAL_STORAGE),
                unit_scale=prices.hours,
            )
        )
    if accelerator:
        price = ctx.prices(INFERENCE_SERVICE).lookup(
            productFamily="Elastic Inference", usagetypeBase=f"ElasticInference-Accelerator:{accelerator}"
        )
        components.append(
            priced(f"Inference accelerator ({accelerator})", "hours", prices.hours * count, price)
        )
    return components


def task_size(value: str | None) -> Decimal:
    """ "1 vCPU" → 1, "2 GB" → 2, "2048" → 2 (units of 1/1,024); garbage → 0 (nothing to price)."""
    if value is None:
        return Decimal(0)
    text = value.replace(" ", "")
    if _UNIT.search(text):
        quantity = to_decimal(_UNIT.sub("", text))
        return quantity if quantity is not None and quantity > 0 else Decimal(0)
    quantity = to_decimal(text)
    return quantity / UNITS_PER_WHOLE if quantity is not None and quantity > 0 else Decimal(0)


def launch_type(ctx: PricingContext) -> str | None:
    own = ctx.attrs.text("launch_type")
    if own is not None:
        return own.upper()
    strategy = _strategy_launch_type(ctx.attrs.blocks("capacity_provider_strategy"))
    if strategy is not None:
        return strategy
    clusters = linked.referred(ctx, "cluster", "aws_ecs_cluster")
    if not clusters:
        return None
    cluster = clusters[0]
    found = _cluster_launch_type(cluster.attrs)
    if found == FARGATE:
        return found
    cluster_ctx = ctx._replace(
        address=cluster.address, resource_type=cluster.resource_type, attrs=cluster.attrs
    )
    for providers in linked.referrers(
        cluster_ctx, ("aws_ecs_cluster_capacity_providers", "cluster_name"), every_instance=True
    ):
        from_providers = _cluster_launch_type(providers.attrs)
        if from_providers == FARGATE:
            return from_providers
        found = from_providers or found
    return found


def _cluster_launch_type(attrs: Attributes) -> str | None:
    """A cluster's (or its capacity providers resource's) default strategy, else its providers."""
    defaults = attrs.blocks("default_capacity_provider_strategy")
    if defaults:
        return _strategy_launch_type(defaults)
    providers = [p for p in attrs.items("capacity_providers") if isinstance(p, str)]
    return FARGATE if FARGATE in providers else None


def _strategy_launch_type(strategy: list[Attributes]) -> str | None:
    """The first entry with a base or a weight decides, as in Infracost: Fargate (also Spot) or EC2."""
    for entry in strategy:
        if (entry.integer("base") or 0) > 0 or (entry.integer("weight") or 0) > 0:
            provider = (entry.text("capacity_provider") or "").upper()
            return FARGATE if provider.startswith(FARGATE) else "EC2"
    return None


def task_definition(ctx: PricingContext) -> Attributes | None:
    """The task definition a task set of this service runs, else the service's own."""
    for task_set in linked.referrers(ctx, ("aws_ecs_task_set", "service")):
        set_ctx = ctx._replace(
            address=task_set.address, resource_type=task_set.resource_type, attrs=task_set.attrs
        )
        found = linked.referred(set_ctx, "task_definition", "aws_ecs_task_definition")
        if found:
            return found[0].attrs
    own = linked.referred(ctx, "task_definition", "aws_ecs_task_definition")
    return own[0].attrs if own else None
