"""Site-to-Site VPN connections and transit gateway attachments (AmazonVPC offer).

``aws_vpn_connection``: the connection's hours; attached to a transit gateway (``transit_gateway_id``
set) it also pays a transit gateway attachment and the data processed through it (usage
``monthly_data_processed_gb``), as Infracost prices it.

``aws_ec2_transit_gateway_vpc_attachment``: attachment hours and data processed (usage
``monthly_data_processed_gb``). ``aws_ec2_transit_gateway_peering_attachment``: attachment hours
(peering traffic is billed as inter-region data transfer, not here).

Transit gateway products differ by ``operation`` (``TransitGatewayVPC``, ``TransitGatewayVPN``,
``TransitGatewayPeering``), as in Infracost's filters. Region: the resource's own (its provider's).
Infracost takes the transit gateway's region when the attachment refers to one; in a plan both are
planned by the same provider unless the configuration passes an aliased provider, which we do not
follow.
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, Hourly, UsageBased, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer, table_pricer

SERVICE = "AmazonVPC"

DATA_PROCESSED_USAGE = (
    UsageKey("monthly_data_processed_gb", FLOAT, "Monthly data processed by the transit gateway (GB)."),
)


def _attachment(operation: str) -> Hourly:
    return Hourly(
        "Transit gateway attachment", {"usagetypeBase": "TransitGateway-Hours", "operation": operation}
    )


def _data_processed(operation: str) -> UsageBased:
    return UsageBased(
        "Data processed",
        "GB",
        "monthly_data_processed_gb",
        {"usagetypeBase": "TransitGateway-Bytes", "operation": operation},
    )


table_pricer(
    "aws_ec2_transit_gateway_vpc_attachment",
    service=SERVICE,
    shapes=(_attachment("TransitGatewayVPC"), _data_processed("TransitGatewayVPC")),
    usage=DATA_PROCESSED_USAGE,
)
table_pricer(
    "aws_ec2_transit_gateway_peering_attachment",
    service=SERVICE,
    shapes=(_attachment("TransitGatewayPeering"),),
)

_VPN_CONNECTION = Hourly(
    "VPN connection", {"productFamily": "Cloud Connectivity", "usagetypeBase": "VPN-Usage-Hours:ipsec.1"}
)
_VPN_ATTACHMENT = _attachment("TransitGatewayVPN")
_VPN_DATA_PROCESSED = _data_processed("TransitGatewayVPN")


@pricer("aws_vpn_connection", usage=DATA_PROCESSED_USAGE)
def price_vpn_connection(ctx: PricingContext) -> list[CostComponent]:
    prices = ctx.prices(SERVICE)
    components = [_VPN_CONNECTION.component(ctx, prices)]
    # An unknown transit_gateway_id (a reference to a gateway being created) is still set.
    if ctx.attrs.text("transit_gateway_id") or ctx.attrs.is_unknown("transit_gateway_id"):
        components.append(_VPN_ATTACHMENT.component(ctx, prices))
        components.append(_VPN_DATA_PROCESSED.component(ctx, prices))
    return components
