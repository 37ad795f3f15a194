"""aws_dx_connection: port hours and outbound data transfer to the connection's location.

Port hours: AWSDirectConnect offer, product family "Direct Connect", ``capacity`` from ``bandwidth``
("1Gbps" → "1G", "100Mbps" → "100M") and ``connectionType`` ("Dedicated" by default; usage
``dx_connection_type: hosted`` for a hosted connection). Infracost also matches the location in the usage
type; port prices do not differ between the locations of one region, so the region, capacity and
connection type choose the product here.

Outbound data transfer (usage): per source region, ``monthly_outbound_from_region_to_dx_connection_location``
(region → GB, keys such as ``eu_west_1``; a key that is no region code is skipped, as Infracost does),
or the older single figure ``monthly_outbound_region_to_dx_location_gb`` from the connection's own
region. Products: family "Data Transfer" in the source region, usage type
``<region>-<location>-DataXfer-Out`` (``usagetypeBase`` drops the region prefix), and
``virtualInterfaceType`` (usage ``dx_virtual_interface_type``, ``private`` by default).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from cloudcostguard.estimation.kit import FLOAT, OBJECT, STRING, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.estimation.usage import ResourceUsage

SERVICE = "AWSDirectConnect"
_REGION_CODE = re.compile(r"^[a-z]{2}(?:-gov)?-[a-z]+-\d$")
_CONNECTION_TYPES = {"dedicated": "Dedicated", "hosted": "Hosted"}

USAGE = (
    UsageKey(
        "monthly_outbound_from_region_to_dx_connection_location",
        OBJECT,
        "Monthly outbound data (GB) from each region (keys like us_east_1) to the connection's location.",
    ),
    UsageKey(
        "monthly_outbound_region_to_dx_location_gb",
        FLOAT,
        "Monthly outbound data (GB) from the connection's region (older key; the per-region one wins).",
    ),
    UsageKey(
        "dx_virtual_interface_type", STRING, "Virtual interface type: private (default), public or transit."
    ),
    UsageKey("dx_connection_type", STRING, "Connection type: dedicated (default) or hosted."),
)


@pricer("aws_dx_connection", usage=USAGE)
def price_dx_connection(ctx: PricingContext) -> list[CostComponent]:
    attrs, usage = ctx.attrs, ctx.usage
    capacity = (attrs.text("bandwidth") or "").replace("bps", "", 1)
    location = attrs.text("location") or ""
    connection_type = _CONNECTION_TYPES.get((usage.text("dx_connection_type") or "dedicated").lower())
    port_query = {
        "productFamily": "Direct Connect",
        "capacity": capacity,
        "connectionType": connection_type or "",
    }
    components = [ctx.prices(SERVICE).hourly("DX connection", port_query)]

    interface = (usage.text("dx_virtual_interface_type") or "private").lower()
    by_region: Any = usage.raw("monthly_outbound_from_region_to_dx_connection_location")
    outbound: list[tuple[str, Decimal | None]] = []
    if isinstance(by_region, dict):
        per_region = ResourceUsage(by_region, ctx.address)  # the same checks as any usage value
        for key in sorted(by_region, key=str):
            region = str(key).replace("_", "-")
            if _REGION_CODE.match(region):
                outbound.append((region, per_region.decimal(key)))
    else:
        single = usage.decimal("monthly_outbound_region_to_dx_location_gb")
        if single is not None:
            outbound.append((ctx.region, single))
    transfer_query = {
        "productFamily": "Data Transfer",
        "usagetypeBase": f"{location}-DataXfer-Out",
        "virtualInterfaceType": interface,
    }
    for region, gigabytes in outbound:
        components.append(
            ctx.prices(SERVICE, region).usage(
                f"Outbound data transfer (from {region}, to {location})", "GB", gigabytes, transfer_query
            )
        )
    return components
