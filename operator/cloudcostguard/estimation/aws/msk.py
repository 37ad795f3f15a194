"""aws_msk_cluster: broker instance hours and broker storage, as Infracost's ``MSKCluster``.

Brokers: ``number_of_broker_nodes`` × every hour, at the broker type's price (the usage type names
it, e.g. ``Kafka.m5.large``; offer files spell the ``kafka.`` prefix with a capital). Storage: the
EBS volume size per broker (``broker_node_group_info.ebs_volume_size``, or
``storage_info.ebs_storage_info.volume_size``) × brokers, GP2 storage. An Application Auto Scaling
target on ``kafka:broker-storage:VolumeSize`` sets the size per broker instead (its usage
``capacity``, else its ``min_capacity``), and the line is named "Storage (autoscaling)".
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.aws.appautoscaling import scaling_targets
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonMSK"
_FAMILY = "Managed Streaming for Apache Kafka (MSK)"
STORAGE_QUERY = {"productFamily": _FAMILY, "storageFamily": "GP2"}
STORAGE_DIMENSION = "kafka:broker-storage:VolumeSize"
_INSTANCE_PREFIX = "kafka."


@pricer("aws_msk_cluster")
def price_msk_cluster(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    prices = ctx.prices(SERVICE)
    brokers = attrs.decimal("number_of_broker_nodes") or Decimal(0)
    group = attrs.block("broker_node_group_info")
    instance_type = group.text("instance_type") or ""
    size = group.decimal("ebs_volume_size")
    if size is None:
        size = group.block("storage_info").block("ebs_storage_info").decimal("volume_size")
    storage_name = "Storage"
    for target in scaling_targets(ctx, "arn"):
        if target.dimension == STORAGE_DIMENSION:
            storage_name = "Storage (autoscaling)"
            size = target.capacity
    suffix = (
        instance_type[len(_INSTANCE_PREFIX) :]
        if instance_type.startswith(_INSTANCE_PREFIX)
        else instance_type
    )
    instance_query = {
        "productFamily": _FAMILY,
        "usagetypeBase": f"Kafka.{suffix}",
    }
    return [
        prices.hourly(f"Instance ({instance_type})", instance_query, count=brokers),
        prices.usage(storage_name, "GB", None if size is None else size * brokers, STORAGE_QUERY),
    ]
