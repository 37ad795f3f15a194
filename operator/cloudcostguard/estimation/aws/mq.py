"""aws_mq_broker: broker instance hours and storage, as Infracost's ``MQBroker``.

One instance hour a month-hour at the price of the engine, host type and deployment (Multi-AZ for
``active_standby_multi_az`` and ``cluster_multi_az``, else Single-AZ). Storage comes from usage
(``storage_size_gb`` per broker instance; a RabbitMQ cluster has three): RabbitMQ stores on EBS,
ActiveMQ on EFS unless ``storage_type`` is ``ebs``.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonMQ"
MULTI_AZ_MODES = frozenset({"active_standby_multi_az", "cluster_multi_az"})
RABBITMQ_CLUSTER_INSTANCES = Decimal(3)
# Storage usage types by engine/storage, as Infracost matches them.
RABBITMQ_STORAGE_QUERY = {"productFamily": "Broker Storage", "usagetypeBase": "TimedStorage-RabbitMQ-ByteHrs"}
ACTIVEMQ_EBS_QUERY = {"productFamily": "Broker Storage", "usagetypeBase": "TimedStorage-EBS-ByteHrs"}
ACTIVEMQ_EFS_QUERY = {"productFamily": "Broker Storage", "usagetypeBase": "TimedStorage-ByteHrs"}

USAGE = (UsageKey("storage_size_gb", FLOAT, "Storage used by each broker instance (GB)."),)


@pricer("aws_mq_broker", usage=USAGE)
def price_mq_broker(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    prices = ctx.prices(SERVICE)
    engine = attrs.text("engine_type") or ""
    host = attrs.text("host_instance_type") or ""
    mode = (attrs.text("deployment_mode") or "single_instance").lower()
    multi_az = mode in MULTI_AZ_MODES
    rabbitmq = engine.lower() == "rabbitmq"
    storage_type = (attrs.text("storage_type") or ("ebs" if rabbitmq else "efs")).lower()
    instance_query = {
        "productFamily": "Broker Instances",
        "instanceType": host,
        "brokerEngine": engine,
        "deploymentOption": "Multi-AZ" if multi_az else "Single-AZ",
        "operation": "CreateBroker",
    }
    if rabbitmq:
        storage_query = RABBITMQ_STORAGE_QUERY
    else:
        storage_query = ACTIVEMQ_EBS_QUERY if storage_type == "ebs" else ACTIVEMQ_EFS_QUERY
    size = ctx.usage.decimal("storage_size_gb")
    if size is not None and rabbitmq and multi_az:
        size *= RABBITMQ_CLUSTER_INSTANCES
    return [
        prices.hourly(f"Instance usage ({engine}, {host}, {mode})", instance_query),
        prices.usage(f"Storage ({engine}, {storage_type.upper()})", "GB", size, storage_query),
    ]
