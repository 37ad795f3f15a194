"""aws_kms_key: the monthly key charge and its requests, as Infracost's ``KMSKey``.

Requests are listed by the key spec (``customer_master_key_spec``): RSA_2048 keys bill "Requests
(RSA 2048)", other asymmetric keys "Requests (asymmetric)", symmetric keys (the default) plain
requests and the two GenerateDataKeyPair lines. Infracost prices its "RSA GenerateDataKeyPair" line
from the ECC usage type; we ask for the RSA usage type itself. Infracost reads no usage for KMS keys:
request lines show their price only.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "awskms"
KEY_QUERY = {"productFamily": "Encryption Key", "usagetypeBase": "KMS-Keys"}
_10K = Decimal(10_000)
_UNIT = "10k requests"

RequestLines = tuple[tuple[str, dict[str, str]], ...]

SYMMETRIC_REQUESTS: RequestLines = (
    ("Requests", {"usagetypeBase": "KMS-Requests"}),
    ("ECC GenerateDataKeyPair requests", {"usagetypeBase": "KMS-Requests-GenerateDatakeyPair-ECC"}),
    ("RSA GenerateDataKeyPair requests", {"usagetypeBase": "KMS-Requests-GenerateDatakeyPair-RSA"}),
)
RSA_2048_REQUESTS: RequestLines = (
    ("Requests (RSA 2048)", {"usagetypeBase": "KMS-Requests-Asymmetric-RSA_2048"}),
)
ASYMMETRIC_REQUESTS: RequestLines = (("Requests (asymmetric)", {"usagetypeBase": "KMS-Requests-Asymmetric"}),)
ASYMMETRIC_SPECS = frozenset(
    {"RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1"}
)


@pricer("aws_kms_key")
def price_kms_key(ctx: PricingContext) -> list[CostComponent]:
    prices = ctx.prices(SERVICE)
    spec = ctx.attrs.text("customer_master_key_spec")
    if spec == "RSA_2048":
        requests = RSA_2048_REQUESTS
    elif spec in ASYMMETRIC_SPECS:
        requests = ASYMMETRIC_REQUESTS
    else:
        requests = SYMMETRIC_REQUESTS
    components = [prices.quantity("Customer master key", "months", Decimal(1), KEY_QUERY)]
    components.extend(prices.usage(name, _UNIT, None, query, scale=_10K) for name, query in requests)
    return components
