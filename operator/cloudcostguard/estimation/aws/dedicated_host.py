"""aws_ec2_host: an EC2 Dedicated Host, billed per host-hour for its instance family.

As Infracost: "EC2 Dedicated Host (on-demand, FAMILY)", the family from ``instance_type``
(``c5.18xlarge`` → ``c5``) or ``instance_family``, priced by the offer's ``Dedicated Host`` product
with usage type ``HostUsage:FAMILY``. The region is the host's availability zone's. A reservation
(usage ``reserved_instance_term``, ``reserved_instance_payment_option``) is named "reserved" and has
no price in the on-demand catalog. Instances placed on the host pay no compute of their own (ec2.py).
"""

from __future__ import annotations

from cloudcostguard.estimation.aws import compute
from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer


@pricer("aws_ec2_host", usage=compute.RESERVATION_USAGE)
def price_ec2_host(ctx: PricingContext) -> list[CostComponent]:
    instance_type = ctx.attrs.text("instance_type")
    family = instance_type.split(".", 1)[0] if instance_type else ctx.attrs.text("instance_family")
    reserved = _reserved(ctx)
    name = f"EC2 Dedicated Host ({'reserved' if reserved else 'on-demand'}, {family or 'unknown'})"
    price = None
    if family and not reserved:
        price = ctx.prices(compute.SERVICE).lookup(
            productFamily="Dedicated Host", usagetypeBase=f"HostUsage:{family}"
        )
    return [priced(name, "hours", ctx.hours_per_month, price)]


def _reserved(ctx: PricingContext) -> bool:
    if ctx.usage.text("reserved_instance_term") is None:
        return False
    compute.check_reservation(ctx.usage, ctx.address)
    return True
