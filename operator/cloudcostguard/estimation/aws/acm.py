"""Private certificates: aws_acmpca_certificate_authority and aws_acm_certificate (private).

As Infracost's ``ACMPCACertificateAuthority`` and ``ACMCertificate``:

* A private CA costs a month of CA (general-purpose, or short-lived certificate mode when
  ``usage_mode`` is ``SHORT_LIVED_CERTIFICATE``) plus the certificates it issues
  (``monthly_requests``): general-purpose in bands of 1,000 and 9,000 then the rest, each at the tier
  starting there; short-lived at one rate.
* A certificate from ACM is free when public; one issued by a private CA
  (``certificate_authority_arn`` set) is one certificate at the first band's rate.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.aws.usage_tiers import Buckets, bucket_lines, tier_price
from cloudcostguard.estimation.components import at_unit_price
from cloudcostguard.estimation.kit import INTEGER, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AWSCertificateManager"
_FAMILY = "AWS Certificate Manager"
CA_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "PaidPrivateCA"}
SHORT_LIVED_CA_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "ShortLivedCertificatePrivateCA"}
CERTIFICATES_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "PrivateCertificatesIssued"}
SHORT_LIVED_CERTIFICATES_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "ShortLivedCertificatesIssued"}
CERTIFICATE_BUCKETS = Buckets(
    ("Certificates (first 1K)", "Certificates (next 9K)", "Certificates (over 10K)"),
    (Decimal(1000), Decimal(9000)),
    (Decimal(0), Decimal(1000), Decimal(10_000)),
)
SHORT_LIVED_MODE = "SHORT_LIVED_CERTIFICATE"

CA_USAGE = (UsageKey("monthly_requests", INTEGER, "Certificates the CA issues a month."),)


@pricer("aws_acmpca_certificate_authority", usage=CA_USAGE)
def price_certificate_authority(ctx: PricingContext) -> list[CostComponent]:
    prices = ctx.prices(SERVICE)
    issued = ctx.usage.decimal("monthly_requests")
    if (ctx.attrs.text("usage_mode") or "").upper() == SHORT_LIVED_MODE:
        return [
            prices.quantity(
                "Private certificate authority (short-lived certificate mode)",
                "months",
                Decimal(1),
                SHORT_LIVED_CA_QUERY,
            ),
            prices.usage("Certificates (short-lived)", "requests", issued, SHORT_LIVED_CERTIFICATES_QUERY),
        ]
    return [
        prices.quantity("Private certificate authority", "months", Decimal(1), CA_QUERY),
        *bucket_lines(CERTIFICATE_BUCKETS, "requests", issued, prices.find(CERTIFICATES_QUERY)),
    ]


@pricer("aws_acm_certificate")
def price_acm_certificate(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    # A CA created in the same plan has no ARN yet: an unknown ARN is a private CA's too.
    if attrs.text("certificate_authority_arn") is None and not attrs.is_unknown("certificate_authority_arn"):
        return []  # public certificates are free
    rate = tier_price(ctx.prices(SERVICE).find(CERTIFICATES_QUERY), Decimal(0))
    return [at_unit_price("Certificate", "requests", Decimal(1), rate, usage_based=True)]
