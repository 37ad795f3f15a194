"""aws_kinesis_stream (provisioned and on-demand) and aws_kinesis_firehose_delivery_stream.

Kinesis Data Streams, as Infracost's ``KinesisStream``: the mode is
``stream_mode_details.stream_mode``. ``PROVISIONED`` is priced per shard hour (``shard_count``), with
PUT payload units, retention, long-term retrieval and enhanced fan-out from usage; ``ON_DEMAND`` per
stream hour, with data in, out, enhanced fan-out out and retention from usage. A stream whose mode is
not in the plan (unset, or known only after apply) but has a ``shard_count`` is provisioned, as AWS
creates it; Infracost prices such a stream at nothing, which would let it pass a budget for free.
Without either it gets no components.

Kinesis Data Firehose, as Infracost's ``KinesisFirehoseDeliveryStream``: data ingested
(``monthly_data_ingested_gb``) in Infracost's bands (first 500 TB, next 1.5 PB, then the rest, named
"next 3PB"); format conversion when ``extended_s3_configuration``'s
``data_format_conversion_configuration`` is present and not disabled; VPC delivery (data and one
hour per subnet) when ``elasticsearch_configuration`` has a ``vpc_config``. Direct-PUT ingestion is
the product of group ``Event-by-Event Processing``.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.aws import linked
from cloudcostguard.estimation.aws.usage_tiers import Buckets, bucket_lines
from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

STREAMS = "AmazonKinesis"
FIREHOSE = "AmazonKinesisFirehose"

_FAMILY = "Kinesis Streams"


def _stream_query(usagetype: str, operation: str) -> dict[str, str]:
    return {"productFamily": _FAMILY, "usagetypeBase": usagetype, "operation": operation}


ON_DEMAND_HOUR = _stream_query("OnDemand-StreamHour", "OnDemandStreamHr")
SHARD_HOUR = _stream_query("Storage-ShardHour", "shardHourStorage")
# (name, unit, usage key, query) of each usage-based line, in Infracost's order.
UsageLines = tuple[tuple[str, str, str, dict[str, str]], ...]

ON_DEMAND_USAGE: UsageLines = (
    (
        "Data ingested",
        "GB",
        "monthly_on_demand_data_in_gb",
        _stream_query("OnDemand-BilledIncomingBytes", "OnDemandDataIngested"),
    ),
    (
        "Data retrieval",
        "GB",
        "monthly_on_demand_data_out_gb",
        _stream_query("OnDemand-BilledOutgoingBytes", "OnDemandDataRetrieval"),
    ),
    (
        "Enhanced Fan Out (EFO) Data retrieval",
        "GB",
        "monthly_on_demand_efo_data_out_gb",
        _stream_query("OnDemand-BilledOutgoingEFOBytes", "OnDemandEFODataRetrieval"),
    ),
    (
        "Extended retention (24H to 7D)",
        "GB",
        "monthly_on_demand_extended_retention_gb",
        _stream_query("OnDemand-ExtendedRetention-ByteHrs", "OnDemandExtendedRetentionByteHrs"),
    ),
    (
        "Long term retention (7D+)",
        "GB",
        "monthly_on_demand_long_term_retention_gb",
        _stream_query("OnDemand-LongTermRetention-ByteHrs", "OnDemandLongTermRetentionByteHrs"),
    ),
)
PROVISIONED_USAGE: UsageLines = (
    (
        "Put request unit",
        "units",
        "monthly_provisioned_put_units",
        _stream_query("PutRequestPayloadUnits", "PutRequest"),
    ),
    (
        "Extended retention (24H to 7D)",
        "GB",
        "monthly_provisioned_extended_retention_gb",
        _stream_query("Extended-ShardHour", "shardHourStorage"),
    ),
    (
        "Long term retention (7D+)",
        "GB",
        "monthly_provisioned_long_term_retention_gb",
        _stream_query("LongTermRetention-ByteHrs", "LongTermRetentionByteHrs"),
    ),
    (
        "Extended retention retrieval (7D+)",
        "GB",
        "monthly_provisioned_long_term_retrieval_gb",
        _stream_query("LongTermRetention-ReadBytes", "LongTermRetentionDataRetrieval"),
    ),
    (
        "Enhanced Fan Out (EFO) Data retrieval",
        "GB",
        "monthly_provisioned_efo_data_out_gb",
        _stream_query("ReadBytes", "EnhancedFanoutDataRetrieval"),
    ),
    (
        "Enhanced Fan Out (EFO)",
        "consumer-shard hour",
        "monthly_provisioned_efo_consumer_hours",
        _stream_query("EnhancedFanoutHour", "ConsumerHour"),
    ),
)

STREAM_USAGE = (
    UsageKey("monthly_on_demand_data_in_gb", FLOAT, "On-demand: monthly data written (GB)."),
    UsageKey("monthly_on_demand_data_out_gb", FLOAT, "On-demand: monthly data read (GB)."),
    UsageKey(
        "monthly_on_demand_efo_data_out_gb", FLOAT, "On-demand: monthly data read by enhanced fan-out (GB)."
    ),
    UsageKey(
        "monthly_on_demand_extended_retention_gb", FLOAT, "On-demand: data kept 24 hours to 7 days (GB)."
    ),
    UsageKey("monthly_on_demand_long_term_retention_gb", FLOAT, "On-demand: data kept beyond 7 days (GB)."),
    UsageKey("monthly_provisioned_put_units", FLOAT, "Provisioned: monthly PUT payload units (25 KB each)."),
    UsageKey(
        "monthly_provisioned_extended_retention_gb", FLOAT, "Provisioned: data kept 24 hours to 7 days (GB)."
    ),
    UsageKey(
        "monthly_provisioned_long_term_retention_gb", FLOAT, "Provisioned: data kept beyond 7 days (GB)."
    ),
    UsageKey(
        "monthly_provisioned_long_term_retrieval_gb",
        FLOAT,
        "Provisioned: monthly reads of data older than 7 days (GB).",
    ),
    UsageKey(
        "monthly_provisioned_efo_data_out_gb",
        FLOAT,
        "Provisioned: monthly data read by enhanced fan-out (GB).",
    ),
    UsageKey(
        "monthly_provisioned_efo_consumer_hours",
        FLOAT,
        "Provisioned: enhanced fan-out consumer-shard hours a month.",
    ),
)


@pricer("aws_kinesis_stream", usage=STREAM_USAGE)
def price_kinesis_stream(ctx: PricingContext) -> list[CostComponent]:
    mode = ctx.attrs.block("stream_mode_details").text("stream_mode")
    if mode is None and (ctx.attrs.decimal("shard_count") or 0) > 0:
        mode = "PROVISIONED"
    prices = ctx.prices(STREAMS)
    usage = ctx.usage
    if mode == "ON_DEMAND":
        components = [prices.hourly("ON_DEMAND", ON_DEMAND_HOUR)]
        lines = ON_DEMAND_USAGE
    elif mode == "PROVISIONED":
        shards = ctx.attrs.decimal("shard_count") or Decimal(0)
        components = [prices.hourly("PROVISIONED", SHARD_HOUR, count=shards)]
        lines = PROVISIONED_USAGE
    else:
        return []
    components.extend(prices.usage(name, unit, usage.decimal(key), query) for name, unit, key, query in lines)
    return components


_FIREHOSE_FAMILY = "Kinesis Firehose"
INGESTION_QUERY = {"productFamily": _FIREHOSE_FAMILY, "group": "Event-by-Event Processing"}
FORMAT_CONVERSION_QUERY = {"productFamily": _FIREHOSE_FAMILY, "operation": "DataFormatConversion"}
VPC_DATA_QUERY = {"productFamily": _FIREHOSE_FAMILY, "operation": "VpcBandwidth"}
VPC_HOUR_QUERY = {"productFamily": _FIREHOSE_FAMILY, "operation": "RunVpcInstance"}
INGESTION_BUCKETS = Buckets(
    ("Data ingested (first 500TB)", "Data ingested (next 1.5PB)", "Data ingested (next 3PB)"),
    (Decimal(512_000), Decimal(1_536_000)),  # GB
    (Decimal(0), Decimal(512_000), Decimal(2_048_000)),
)
SUBNET_PATH = "elasticsearch_configuration.vpc_config.subnet_ids"

FIREHOSE_USAGE = (UsageKey("monthly_data_ingested_gb", FLOAT, "Monthly data ingested by the stream (GB)."),)


@pricer("aws_kinesis_firehose_delivery_stream", usage=FIREHOSE_USAGE)
def price_firehose_delivery_stream(ctx: PricingContext) -> list[CostComponent]:
    prices = ctx.prices(FIREHOSE)
    ingested = ctx.usage.decimal("monthly_data_ingested_gb")
    components = bucket_lines(INGESTION_BUCKETS, "GB", ingested, prices.find(INGESTION_QUERY))
    conversion_blocks = ctx.attrs.block("extended_s3_configuration").blocks(
        "data_format_conversion_configuration"
    )
    if conversion_blocks and conversion_blocks[0].flag("enabled", True) is not False:
        components.append(prices.usage("Format conversion", "GB", ingested, FORMAT_CONVERSION_QUERY))
    if ctx.attrs.block("elasticsearch_configuration").blocks("vpc_config"):
        components.append(prices.usage("VPC data", "GB", ingested, VPC_DATA_QUERY))
        components.append(prices.hourly("VPC AZ delivery", VPC_HOUR_QUERY, count=Decimal(_subnets(ctx))))
    return components


def _subnets(ctx: PricingContext) -> int:
    """Subnets of the VPC delivery: the planned ids, else the subnets the expression refers to."""
    known = ctx.attrs.block("elasticsearch_configuration").block("vpc_config").items("subnet_ids")
    if known:
        return len(known)
    return len(linked.referred(ctx, SUBNET_PATH, "aws_subnet"))
