"""aws_fsx_windows_file_system: FSx for Windows File Server, as Infracost's ``FSxWindowsFileSystem``.

Throughput capacity (``throughput_capacity`` MBps a month), storage (``storage_capacity`` GB, SSD
unless ``storage_type`` is HDD) and backups (usage ``backup_storage_gb``), at the deployment's
prices (Multi-AZ for the ``MULTI_AZ_*`` deployment types, else Single-AZ).
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonFSx"
WINDOWS = "Windows"

USAGE = (UsageKey("backup_storage_gb", FLOAT, "Backups of the file system (GB)."),)


@pricer("aws_fsx_windows_file_system", usage=USAGE)
def price_fsx_windows_file_system(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    deployment = "Multi-AZ" if "multi_az" in (attrs.text("deployment_type") or "").lower() else "Single-AZ"
    storage = "HDD" if (attrs.text("storage_type") or "").lower() == "hdd" else "SSD"
    prices = ctx.prices(SERVICE)
    throughput_query = {
        "productFamily": "Provisioned Throughput",
        "deploymentOption": deployment,
        "fileSystemType": WINDOWS,
    }
    storage_query = {
        "productFamily": "Storage",
        "deploymentOption": deployment,
        "fileSystemType": WINDOWS,
        "storageType": storage,
    }
    backup_query = {
        "productFamily": "Storage",
        "deploymentOption": deployment,
        "fileSystemType": WINDOWS,
        "usagetypeBase": "BackupUsage",
    }
    return [
        prices.quantity(
            "Throughput capacity", "MBps", attrs.decimal("throughput_capacity"), throughput_query
        ),
        prices.quantity(f"{storage} storage", "GB", attrs.decimal("storage_capacity"), storage_query),
        prices.usage("Backup storage", "GB", ctx.usage.decimal("backup_storage_gb"), backup_query),
    ]
