"""aws_sns_topic: requests and notifications of standard topics; FIFO topics' requests and payload.

Follows Infracost's ``SNSTopic`` and ``SNSFIFOTopic``:

* Standard: requests are counted in 64 KB chunks (``request_size_kb``, default 64). The first million
  requests a month are free, so the line is "API requests (over 1M)", priced at the tier starting at
  1M. Each delivery channel has its free allowance (HTTP 100k, email 1k, SMS 100 notifications); a
  channel's notifications are its subscriptions × the requests, less the allowance. SMS prices are
  per destination country: ``sms_notification_price`` (USD per notification) overrides the catalog,
  which Infracost reads in us-east-1, me-south-1 or eu-west-3 only (us-east-1 elsewhere).
* FIFO (``fifo_topic``): publish requests and payload (``request_size_kb`` in KB, 10^6 KB per GB as
  Infracost); with subscriptions (``aws_sns_topic_subscription`` resources referring to the topic's
  ``topic_arn``; with instance keys, those of the topic's own key), notifications and their payload
  too. FIFO products have no product family in the
  offer file: they are found by usage type alone.
"""

from __future__ import annotations

import math
from decimal import Decimal

from cloudcostguard.estimation.aws import linked
from cloudcostguard.estimation.aws.usage_tiers import tier_price
from cloudcostguard.estimation.components import at_unit_price
from cloudcostguard.estimation.kit import FLOAT, INTEGER, MILLION, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.pricing.catalog import Price

SERVICE = "AmazonSNS"

CHUNK_KB = Decimal(64)  # SNS bills each 64 KB chunk of a request as one request
FREE_REQUESTS = MILLION
_KB_PER_GB = Decimal(1_000_000)  # Infracost's conversion for FIFO payloads
_HUNDRED = Decimal(100)
_100K = Decimal(100_000)
SMS_REGIONS = frozenset({"us-east-1", "me-south-1", "eu-west-3"})
SMS_FALLBACK_REGION = "us-east-1"
SUBSCRIPTION = ("aws_sns_topic_subscription", "topic_arn")

REQUESTS_QUERY = {"productFamily": "API Request"}
SMS_QUERY = {"productFamily": "Message Delivery", "usagetypeBase": "DeliveryAttempts-SMS"}
FIFO_REQUESTS_QUERY = {"usagetypeBase": "F-Request-Tier1"}
FIFO_PAYLOAD_QUERY = {"usagetypeBase": "F-Ingress-Tier1"}
FIFO_NOTIFICATIONS_QUERY = {"usagetypeBase": "F-DA-SQS"}
FIFO_NOTIFICATION_PAYLOAD_QUERY = {"usagetypeBase": "F-Egress-SQS"}

# (name, unit, catalog units per unit, usage key, usage type, free allowance)
CHANNELS = (
    (
        "HTTP/HTTPS notifications (over 100k)",
        "100k notifications",
        _100K,
        "http_subscriptions",
        {"productFamily": "Message Delivery", "usagetypeBase": "DeliveryAttempts-HTTP"},
        _100K,
    ),
    (
        "Email/Email-JSON notifications (over 1k)",
        "100k notifications",
        _100K,
        "email_subscriptions",
        {"productFamily": "Message Delivery", "usagetypeBase": "DeliveryAttempts-SMTP"},
        Decimal(1000),
    ),
    (
        "Kinesis Firehose notifications",
        "1M notifications",
        MILLION,
        "kinesis_subscriptions",
        {"productFamily": "Message Delivery", "usagetypeBase": "DeliveryAttempts-FIREHOSE"},
        Decimal(0),
    ),
    (
        "Mobile Push notifications",
        "1M notifications",
        MILLION,
        "mobile_push_subscriptions",
        {"productFamily": "Message Delivery", "usagetypeBase": "DeliveryAttempts-APNS"},
        Decimal(0),
    ),
    (
        "MacOS notifications",
        "1M notifications",
        MILLION,
        "macos_subscriptions",
        {"productFamily": "Message Delivery", "usagetypeBase": "DeliveryAttempts-MACOS"},
        Decimal(0),
    ),
)

USAGE = (
    UsageKey("monthly_requests", INTEGER, "Monthly requests (publishes) to the topic."),
    UsageKey("request_size_kb", FLOAT, "Size of a request (KB; standard topics bill 64 KB chunks)."),
    UsageKey("http_subscriptions", INTEGER, "HTTP/HTTPS subscriptions to the topic."),
    UsageKey("email_subscriptions", INTEGER, "Email/Email-JSON subscriptions to the topic."),
    UsageKey("kinesis_subscriptions", INTEGER, "Kinesis Data Firehose subscriptions to the topic."),
    UsageKey("mobile_push_subscriptions", INTEGER, "Mobile push subscriptions to the topic."),
    UsageKey("macos_subscriptions", INTEGER, "macOS subscriptions to the topic."),
    UsageKey("sms_subscriptions", INTEGER, "SMS subscriptions to the topic."),
    UsageKey("sms_notification_price", FLOAT, "Price of one SMS notification (USD; by destination)."),
)


def over_free_allowance(
    name: str,
    unit: str,
    quantity: Decimal | None,
    price: Price | None,
    *,
    allowance: Decimal,
    scale: Decimal,
) -> CostComponent:
    """The part of ``quantity`` (catalog units; None: no usage) above a free ``allowance``, priced at
    the tier that starts there ("API requests (over 1M)")."""
    rate = tier_price(price, allowance)
    shown = None if quantity is None else max(quantity - allowance, Decimal(0)) / scale
    return at_unit_price(name, unit, shown, None if rate is None else rate * scale, usage_based=True)


def _notifications(subscriptions: Decimal | None, requests: Decimal | None) -> Decimal | None:
    """Notifications a channel delivers (None when the usage does not tell)."""
    if subscriptions is not None and requests is not None:
        return subscriptions * requests
    if subscriptions == 0 or requests == 0:
        return Decimal(0)
    return None


@pricer("aws_sns_topic", usage=USAGE)
def price_sns_topic(ctx: PricingContext) -> list[CostComponent]:
    if ctx.attrs.flag("fifo_topic", False) is True:
        return _fifo_topic(ctx)
    usage = ctx.usage
    prices = ctx.prices(SERVICE)
    requests = usage.decimal("monthly_requests")
    if requests is not None:
        size_kb = usage.decimal("request_size_kb") or CHUNK_KB
        requests = Decimal(math.ceil(size_kb / CHUNK_KB)) * requests
    components = [
        over_free_allowance(
            "API requests (over 1M)",
            "1M requests",
            requests,
            prices.find(REQUESTS_QUERY),
            allowance=FREE_REQUESTS,
            scale=MILLION,
        )
    ]
    for name, unit, scale, key, query, allowance in CHANNELS:
        quantity = _notifications(usage.decimal(key), requests)
        components.append(
            over_free_allowance(name, unit, quantity, prices.find(query), allowance=allowance, scale=scale)
        )
    sms = _notifications(usage.decimal("sms_subscriptions"), requests)
    custom = usage.decimal("sms_notification_price")
    if custom is not None:
        shown = None if sms is None else max(sms - _HUNDRED, Decimal(0)) / _HUNDRED
        components.append(
            at_unit_price(
                "SMS notifications (over 100)",
                "100 notifications",
                shown,
                custom * _HUNDRED,
                usage_based=True,
            )
        )
    else:
        region = ctx.region if ctx.region in SMS_REGIONS else SMS_FALLBACK_REGION
        price = ctx.catalog.lookup(SERVICE, region, **SMS_QUERY)
        components.append(
            over_free_allowance(
                "SMS notifications (over 100)",
                "100 notifications",
                sms,
                price,
                allowance=_HUNDRED,
                scale=_HUNDRED,
            )
        )
    return components


def _fifo_topic(ctx: PricingContext) -> list[CostComponent]:
    usage = ctx.usage
    prices = ctx.prices(SERVICE)
    requests = usage.decimal("monthly_requests")
    size_kb = usage.decimal("request_size_kb")
    payload_gb = None if requests is None or size_kb is None else requests * size_kb / _KB_PER_GB
    components = [
        prices.usage(
            "FIFO Publish API requests", "1M requests", requests, FIFO_REQUESTS_QUERY, scale=MILLION
        ),
        prices.usage("FIFO Publish API payload", "GB", payload_gb, FIFO_PAYLOAD_QUERY),
    ]
    subscriptions = len(linked.referrers(ctx, SUBSCRIPTION))
    if subscriptions:
        count = Decimal(subscriptions)
        notifications = None if requests is None else count * requests
        notified_gb = None if payload_gb is None else count * payload_gb
        components.append(
            prices.usage(
                "FIFO notifications",
                "1M notifications",
                notifications,
                FIFO_NOTIFICATIONS_QUERY,
                scale=MILLION,
            )
        )
        components.append(
            prices.usage("FIFO notification payload", "GB", notified_gb, FIFO_NOTIFICATION_PAYLOAD_QUERY)
        )
    return components
