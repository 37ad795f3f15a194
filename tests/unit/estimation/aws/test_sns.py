"""aws_sns_topic: free allowances, 64 KB request chunks, SMS prices from a fallback region."""

from __future__ import annotations

from decimal import Decimal

import cloudcostguard
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord
from tests.unit.estimation.aws.single_resource import component, linked_plan, price_resource, ref

D = Decimal
CATALOG = InMemoryCatalog(
    [
        PriceRecord(
            "AmazonSNS", "us-east-1", {"productFamily": "API Request"}, "Requests", D(0), D(0), D(1_000_000)
        ),
        PriceRecord(
            "AmazonSNS",
            "us-east-1",
            {"productFamily": "API Request"},
            "Requests",
            D("0.000000654321"),
            D(1_000_000),
        ),
        PriceRecord(
            "AmazonSNS",
            "us-east-1",
            {"productFamily": "Message Delivery", "usagetype": "DeliveryAttempts-SMS"},
            "Notifications",
            D(0),
            D(0),
            D(100),
        ),
        PriceRecord(
            "AmazonSNS",
            "us-east-1",
            {"productFamily": "Message Delivery", "usagetype": "DeliveryAttempts-SMS"},
            "Notifications",
            D("0.00654321"),
            D(100),
        ),
    ],
    source="test",
    version="test",
)


def test_requests_beyond_the_free_million_are_billed_per_started_64_kb() -> None:
    topic = price_resource(
        "aws_sns_topic.t", {}, usage={"monthly_requests": 3_000_000, "request_size_kb": 100}, catalog=CATALOG
    )
    requests = component(topic, "API requests (over 1M)")
    # 100 KB is two 64 KB chunks: 6M billed requests, 5M beyond the free million, at the paid tier.
    assert (requests.monthly_quantity, requests.price) == (D(5), D("0.654321"))
    assert requests.monthly_cost == D("3.271605")


def test_sms_is_priced_from_us_east_1_where_the_region_has_no_sms_price() -> None:
    usage = {"monthly_requests": 10, "sms_subscriptions": 30}
    topic = price_resource("aws_sns_topic.t", {}, usage=usage, region="ap-south-1", catalog=CATALOG)
    sms = component(topic, "SMS notifications (over 100)")
    assert (sms.monthly_quantity, sms.price) == (D(2), D("0.654321"))  # 300 notifications, 100 free
    assert component(topic, "API requests (over 1M)").price_not_found  # ap-south-1 has no request price


def test_a_usage_sms_price_replaces_the_catalog_price() -> None:
    usage = {"monthly_requests": 10, "sms_subscriptions": 30, "sms_notification_price": 0.0123}
    sms = component(
        price_resource("aws_sns_topic.t", {}, usage=usage, catalog=CATALOG), "SMS notifications (over 100)"
    )
    assert (sms.price, sms.monthly_cost) == (D("1.2300"), D("2.4600"))


def test_a_fifo_topic_without_subscriptions_lists_only_its_publishes() -> None:
    topic = price_resource("aws_sns_topic.t", {"fifo_topic": True}, usage={"monthly_requests": 1000})
    assert [c.name for c in topic.components] == ["FIFO Publish API requests", "FIFO Publish API payload"]


def test_fifo_notifications_count_the_subscriptions_of_the_topics_own_instance() -> None:
    topic = {"fifo_topic": True}
    # `topic_arn = aws_sns_topic.t[count.index].arn`: subscription [i] belongs to topic [i]; an
    # unkeyed topic has every subscription that refers to it.
    per_topic = ref("aws_sns_topic.t.arn")
    plan = linked_plan(
        [
            ("aws_sns_topic.t[0]", topic, None, {}),
            ("aws_sns_topic.t[1]", topic, None, {}),
            ("aws_sns_topic_subscription.s[0]", {}, None, {"topic_arn": per_topic}),
            ("aws_sns_topic_subscription.s[1]", {}, None, {"topic_arn": per_topic}),
            ("aws_sns_topic.solo", topic, None, {}),
            *(
                (f"aws_sns_topic_subscription.x[{i}]", {}, None, {"topic_arn": ref("aws_sns_topic.solo.arn")})
                for i in range(3)
            ),
        ]
    )
    usage = {"resource_usage": {"aws_sns_topic.t[*]": {"monthly_requests": 1_000_000}}}
    usage["resource_usage"]["aws_sns_topic.solo"] = {"monthly_requests": 1_000_000}
    estimate = cloudcostguard.estimate(plan, usage=usage)
    by_address = {resource.address: resource for resource in estimate.resources}
    for address, subscriptions in (
        ("aws_sns_topic.t[0]", 1),
        ("aws_sns_topic.t[1]", 1),
        ("aws_sns_topic.solo", 3),
    ):
        line = component(by_address[address], "FIFO notifications")
        assert line.monthly_quantity == D(subscriptions), address
