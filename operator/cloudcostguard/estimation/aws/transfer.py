"""aws_transfer_server: AWS Transfer Family, as Infracost's ``TransferServer``.

Every hour of the month for each enabled protocol (``protocols``, SFTP when unset), in alphabetical
order as Infracost lists them; data downloaded and uploaded from usage, at the FTP rates for S3
storage (Infracost's choice: the rates are the same for every protocol).
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AWSTransfer"
_FAMILY = "AWS Transfer Family"
DEFAULT_PROTOCOLS = ("SFTP",)
DOWNLOAD_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "DownloadBytes", "operation": "FTP:S3"}
UPLOAD_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "UploadBytes", "operation": "FTP:S3"}

USAGE = (
    UsageKey("monthly_data_downloaded_gb", FLOAT, "Monthly data downloaded through the server (GB)."),
    UsageKey("monthly_data_uploaded_gb", FLOAT, "Monthly data uploaded through the server (GB)."),
)


@pricer("aws_transfer_server", usage=USAGE)
def price_transfer_server(ctx: PricingContext) -> list[CostComponent]:
    listed = [p for p in ctx.attrs.items("protocols") if isinstance(p, str)]
    protocols = sorted(listed) if ctx.attrs.raw("protocols") is not None else list(DEFAULT_PROTOCOLS)
    prices = ctx.prices(SERVICE)
    components = [
        prices.hourly(
            f"{protocol} protocol enabled",
            {"productFamily": _FAMILY, "usagetypeBase": "ProtocolHours", "operation": f"{protocol}:S3"},
        )
        for protocol in protocols
    ]
    usage = ctx.usage
    components.append(
        prices.usage("Data downloaded", "GB", usage.decimal("monthly_data_downloaded_gb"), DOWNLOAD_QUERY)
    )
    components.append(
        prices.usage("Data uploaded", "GB", usage.decimal("monthly_data_uploaded_gb"), UPLOAD_QUERY)
    )
    return components
