"""aws_lightsail_instance: a Lightsail bundle's hourly price.

As Infracost: the bundle's size comes from the first part of ``bundle_id`` (``medium_2_0`` → 4 GB, the
memory Lightsail names its bundle usage types by), a ``_win_`` in it makes it a Windows bundle; the
price is the ``Lightsail Instance`` product with usage type ``BundleUsage:<memory>[_win]``, named
"Virtual server (Linux/UNIX | Windows)". No usage keys.
"""

from __future__ import annotations

from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonLightsail"
# bundle_id prefix → the memory in the offer's usage type (Lightsail bundle sizes).
BUNDLE_MEMORY = {
    "nano": "0.5GB",
    "micro": "1GB",
    "small": "2GB",
    "medium": "4GB",
    "large": "8GB",
    "xlarge": "16GB",
    "2xlarge": "32GB",
    "4xlarge": "64GB",
}


@pricer("aws_lightsail_instance")
def price_lightsail_instance(ctx: PricingContext) -> list[CostComponent]:
    bundle = (ctx.attrs.text("bundle_id") or "").lower()
    windows = "_win_" in bundle
    prefix = bundle.split("_", 1)[0]
    price = None
    if prefix:
        memory = BUNDLE_MEMORY.get(prefix, prefix)
        price = ctx.prices(SERVICE).lookup(
            productFamily="Lightsail Instance",
            usagetypeBase=f"BundleUsage:{memory}{'_win' if windows else ''}",
        )
    name = f"Virtual server ({'Windows' if windows else 'Linux/UNIX'})"
    return [priced(name, "hours", ctx.hours_per_month, price)]
