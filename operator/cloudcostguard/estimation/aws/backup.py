"""aws_backup_vault: AWS Backup storage and restores, all usage-based, as Infracost's ``BackupVault``.

Each line is a kind of backup the vault holds, priced where AWS lists it: EFS backups and restores
under AWS Backup, EBS snapshots under EC2, RDS and Aurora snapshots under RDS, DynamoDB backups and
restores under DynamoDB, FSx backups under FSx. Two choices where Infracost's filters say more than
our exact lookups can, or differ from AWS: the RDS snapshot line asks for the usage type only
(Infracost also asks for an empty ``operation``, an attribute the loader drops when empty); the
"FSx for Windows backup" line asks for Windows file systems' backup (Infracost reads Lustre's for
both lines).
"""

from __future__ import annotations

from cloudcostguard.estimation.kit import FLOAT, INTEGER, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

BACKUP_FAMILY = "AWS Backup Storage"
# (name, unit, usage key, offer code, query), in Infracost's order.
LINES: tuple[tuple[str, str, str, str, dict[str, str]], ...] = (
    (
        "EFS backup (warm)",
        "GB",
        "monthly_efs_warm_backup_gb",
        "AWSBackup",
        {"productFamily": BACKUP_FAMILY, "usagetypeBase": "WarmStorage-ByteHrs-EFS"},
    ),
    (
        "EFS backup (cold)",
        "GB",
        "monthly_efs_cold_backup_gb",
        "AWSBackup",
        {"productFamily": BACKUP_FAMILY, "usagetypeBase": "ColdStorage-ByteHrs-EFS"},
    ),
    (
        "EFS restore (warm)",
        "GB",
        "monthly_efs_warm_restore_gb",
        "AWSBackup",
        {"productFamily": BACKUP_FAMILY, "usagetypeBase": "PartialRestore-Warm-EFS"},
    ),
    (
        "EFS restore (cold)",
        "GB",
        "monthly_efs_cold_restore_gb",
        "AWSBackup",
        {"productFamily": BACKUP_FAMILY, "usagetypeBase": "PartialRestore-Cold-EFS"},
    ),
    (
        "EFS restore (item-level)",
        "requests",
        "monthly_efs_item_restore_requests",
        "AWSBackup",
        {"productFamily": BACKUP_FAMILY, "usagetypeBase": "PartialRestore-Jobs-EFS"},
    ),
    (
        "EBS snapshot",
        "GB",
        "monthly_ebs_snapshot_gb",
        "AmazonEC2",
        {"productFamily": "Storage Snapshot", "usagetypeBase": "EBS:SnapshotUsage"},
    ),
    (
        "RDS snapshot",
        "GB",
        "monthly_rds_snapshot_gb",
        "AmazonRDS",
        {"productFamily": "Storage Snapshot", "usagetypeBase": "RDS:ChargedBackupUsage"},
    ),
    (
        "DynamoDB backup",
        "GB",
        "monthly_dynamodb_backup_gb",
        "AmazonDynamoDB",
        {
            "productFamily": "Amazon DynamoDB On-Demand Backup Storage",
            "usagetypeBase": "TimedBackupStorage-ByteHrs",
        },
    ),
    (
        "DynamoDB restore",
        "GB",
        "monthly_dynamodb_restore_gb",
        "AmazonDynamoDB",
        {"productFamily": "Amazon DynamoDB Restore Data Size", "usagetypeBase": "RestoreDataSize-Bytes"},
    ),
    (
        "Aurora snapshot",
        "GB",
        "monthly_aurora_snapshot_gb",
        "AmazonRDS",
        {
            "productFamily": "Storage Snapshot",
            "usagetypeBase": "Aurora:BackupUsage",
            "databaseEngine": "Aurora PostgreSQL",
        },
    ),
    (
        "FSx for Windows backup",
        "GB",
        "monthly_fsx_windows_backup_gb",
        "AmazonFSx",
        {"productFamily": "Storage", "usagetypeBase": "BackupUsage", "fileSystemType": "Windows"},
    ),
    (
        "FSx for Lustre backup",
        "GB",
        "monthly_fsx_lustre_backup_gb",
        "AmazonFSx",
        {"productFamily": "Storage", "usagetypeBase": "BackupUsage", "fileSystemType": "Lustre"},
    ),
)

USAGE = (
    UsageKey("monthly_efs_warm_backup_gb", FLOAT, "EFS backups in warm storage (GB)."),
    UsageKey("monthly_efs_cold_backup_gb", FLOAT, "EFS backups in cold storage (GB)."),
    UsageKey("monthly_efs_warm_restore_gb", FLOAT, "Monthly EFS restores from warm storage (GB)."),
    UsageKey("monthly_efs_cold_restore_gb", FLOAT, "Monthly EFS restores from cold storage (GB)."),
    UsageKey("monthly_efs_item_restore_requests", INTEGER, "Monthly item-level EFS restore requests."),
    UsageKey("monthly_ebs_snapshot_gb", FLOAT, "EBS snapshots held (GB)."),
    UsageKey("monthly_rds_snapshot_gb", FLOAT, "RDS snapshots held (GB)."),
    UsageKey("monthly_aurora_snapshot_gb", FLOAT, "Aurora snapshots held (GB)."),
    UsageKey("monthly_dynamodb_backup_gb", FLOAT, "DynamoDB backups held (GB)."),
    UsageKey("monthly_dynamodb_restore_gb", FLOAT, "Monthly DynamoDB restores (GB)."),
    UsageKey("monthly_fsx_windows_backup_gb", FLOAT, "FSx for Windows File Server backups held (GB)."),
    UsageKey("monthly_fsx_lustre_backup_gb", FLOAT, "FSx for Lustre backups held (GB)."),
)


@pricer("aws_backup_vault", usage=USAGE)
def price_backup_vault(ctx: PricingContext) -> list[CostComponent]:
    # Five offers in twelve lines: a vault is rare enough that binding one lookup per line is cheaper
    # to read than regrouping the lines by service, and keeps Infracost's order.
    usage = ctx.usage
    return [
        ctx.prices(service).usage(name, unit, usage.decimal(key), query)
        for name, unit, key, service, query in LINES
    ]
