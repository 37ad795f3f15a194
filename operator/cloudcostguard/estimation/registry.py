"""The pricer table: resource type → small function returning its cost components.

Adding a resource type touches one module under ``estimation/aws/`` (it registers here with
``@pricer("aws_x", usage=...)`` or ``table_pricer``), one test folder, and the generated index
``pricer_index`` (`make pricer-index`; a test fails on drift); ``estimation/aws/README.md`` says how.

Pricer modules are imported when first needed, not all at once: ``load_pricers`` imports those of
the types an estimate meets (the index says which module registers each type), which spares pricing
a small plan the import of some 60 modules. Whatever enumerates the table — ``PRICERS``,
``USAGE_KEYS``: the usage template, coverage, the reference docs, a long-running operator — calls
``load_all_pricers`` first.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import NamedTuple

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.free_types import INFRACOST_FREE_TYPES
from cloudcostguard.estimation.kit import Prices, Shape, TablePricer, TieredUsage, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.pricer_index import PRICER_MODULES
from cloudcostguard.estimation.usage import ResourceUsage
from cloudcostguard.plan.references import PlanReferences, Reference
from cloudcostguard.plan.regions import strip_indexes
from cloudcostguard.pricing.catalog import PriceCatalog


class PricingContext(NamedTuple):
    """Everything a pricer may use for one side (before or after) of one resource change.

    A named tuple, made in C by the estimator (``tuple.__new__``; 0.83 µs as a frozen dataclass, once
    per priced side): immutable, ``_replace`` for a context about another resource of the plan.
    """

    address: str
    resource_type: str
    region: str
    attrs: Attributes
    usage: ResourceUsage
    catalog: PriceCatalog
    hours_per_month: Decimal
    # The whole plan's cross-resource references.
    references: PlanReferences | None = None
    # The day prices apply on (support calendars: EKS extended support, RDS Extended Support years).
    # One value per estimate, so an estimate never straddles midnight; None means today (UTC).
    as_of: date | None = None
    # Another resource's usage (address, type) → values: an autoscaling target's `capacity` decides
    # what the table it scales runs.
    usage_of: Callable[[str, str], ResourceUsage] | None = None
    # The estimate's lookups bound so far, by (service, region): one ``Prices`` per pair and estimate
    # instead of one per side (0.67 µs each). The estimate's own catalog and hours; None: not shared.
    bound: dict[tuple[str, str], Prices] | None = None

    @property
    def pricing_date(self) -> date:
        return self.as_of if self.as_of is not None else datetime.now(UTC).date()

    @property
    def config_address(self) -> str:
        """The resource's configuration address: its address without instance keys."""
        return strip_indexes(self.address)

    def prices(self, service: str, region: str | None = None) -> Prices:
        """Lookups bound to ``service`` in this resource's region (or ``region``, for global offers)."""
        if region is None:
            region = self.region
        bound = self.bound
        if bound is None:
            return Prices(self.catalog, service, region, self.hours_per_month)
        key = (service, region)
        found = bound.get(key)
        if found is None:
            found = bound[key] = Prices(self.catalog, service, region, self.hours_per_month)
        return found

    def referenced_by(self, source_types: Collection[str] | None = None) -> list[Reference]:
        """Expressions of other managed resources (of ``source_types``, when given: only theirs are
        walked) that refer to this one: the NAT gateway or the association holding an Elastic IP,
        whatever the IP's own values say."""
        if self.references is None:
            return []
        return self.references.referencing(self.config_address, source_types)


Pricer = Callable[[PricingContext], list[CostComponent]]

PRICERS: dict[str, Pricer] = {}
# The usage keys each priced type reads (Infracost's usage schema): the usage template lists them, and
# a usage file's key that its type does not read is reported (a typo would otherwise price as $0).
USAGE_KEYS: dict[str, tuple[UsageKey, ...]] = {}


def register(resource_types: tuple[str, ...], function: Pricer, usage: tuple[UsageKey, ...] = ()) -> None:
    for resource_type in resource_types:
        if resource_type in PRICERS:
            raise RuntimeError(f"two pricers for {resource_type}")
        PRICERS[resource_type] = function
        USAGE_KEYS[resource_type] = usage


_AWS_PACKAGE = "cloudcostguard.estimation.aws"
_all_loaded = False


def load_pricers(resource_types: Iterable[str]) -> None:
    """Import the pricer modules of those ``resource_types`` that have none registered yet (types
    without a module in the index — free, unsupported, a test's own — are left alone)."""
    if _all_loaded:
        return
    modules = {PRICER_MODULES[t] for t in resource_types if t not in PRICERS and t in PRICER_MODULES}
    for module in sorted(modules):
        importlib.import_module(f"{_AWS_PACKAGE}.{module}")


def load_all_pricers() -> None:
    """Import every module of the aws package, so that ``PRICERS`` and ``USAGE_KEYS`` are complete:
    also those a new module registers before `make pricer-index` lists it."""
    global _all_loaded  # noqa: PLW0603 - once per process: imports are for good
    if _all_loaded:
        return
    import pkgutil  # noqa: PLC0415 - only here: the estimate path lists no package

    aws = importlib.import_module(_AWS_PACKAGE)
    for module in pkgutil.iter_modules(aws.__path__):
        importlib.import_module(f"{_AWS_PACKAGE}.{module.name}")
    _all_loaded = True


def pricer(*resource_types: str, usage: tuple[UsageKey, ...] = ()) -> Callable[[Pricer], Pricer]:
    """Register the decorated function as the pricer of ``resource_types``, reading ``usage``."""

    def decorate(function: Pricer) -> Pricer:
        register(resource_types, function, usage)
        return function

    return decorate


def table_pricer(
    *resource_types: str,
    service: str,
    shapes: tuple[Shape | TieredUsage, ...],
    usage: tuple[UsageKey, ...] = (),
    region: str | None = None,
) -> TablePricer:
    """Register a pricer stated as data (see ``kit``): each shape priced against ``service``."""
    table = TablePricer(service, shapes, region)
    register(resource_types, table, usage)
    return table


# Types known to cost nothing by themselves (their traffic or attachments are priced elsewhere).
_KNOWN_FREE_TYPES: frozenset[str] = frozenset(
    {
        # networking plumbing
        "aws_vpc",
        "aws_subnet",
        "aws_security_group",
        "aws_security_group_rule",
        "aws_vpc_security_group_ingress_rule",
        "aws_vpc_security_group_egress_rule",
        "aws_route_table",
        "aws_route",
        "aws_route_table_association",
        "aws_main_route_table_association",
        "aws_internet_gateway",
        "aws_egress_only_internet_gateway",
        "aws_network_acl",
        "aws_network_acl_rule",
        "aws_default_vpc",
        "aws_default_subnet",
        "aws_default_security_group",
        "aws_default_route_table",
        "aws_default_network_acl",
        "aws_vpc_dhcp_options",
        "aws_vpc_dhcp_options_association",
        "aws_network_interface",
        "aws_network_interface_attachment",
        "aws_eip_association",
        "aws_vpc_endpoint_route_table_association",
        "aws_vpc_peering_connection_accepter",
        "aws_lb_listener",
        "aws_lb_listener_rule",
        "aws_lb_target_group",
        "aws_lb_target_group_attachment",
        "aws_alb_listener",
        "aws_alb_listener_rule",
        "aws_alb_target_group",
        "aws_alb_target_group_attachment",
        "aws_elb_attachment",
        "aws_volume_attachment",
        "aws_placement_group",
        "aws_key_pair",
        "aws_launch_template",
        "aws_launch_configuration",
        "aws_autoscaling_group_tag",
        "aws_autoscaling_policy",
        # identity and access
        "aws_iam_role",
        "aws_iam_policy",
        "aws_iam_role_policy",
        "aws_iam_role_policy_attachment",
        "aws_iam_user",
        "aws_iam_user_policy",
        "aws_iam_user_policy_attachment",
        "aws_iam_group",
        "aws_iam_group_policy",
        "aws_iam_group_policy_attachment",
        "aws_iam_group_membership",
        "aws_iam_instance_profile",
        "aws_iam_policy_attachment",
        "aws_iam_openid_connect_provider",
        "aws_iam_service_linked_role",
        "aws_iam_access_key",
        # configuration of priced things
        "aws_db_subnet_group",
        "aws_db_parameter_group",
        "aws_db_option_group",
        "aws_elasticache_subnet_group",
        "aws_elasticache_parameter_group",
        "aws_eks_addon",
        "aws_eks_identity_provider_config",
        "aws_eks_access_entry",
        "aws_eks_access_policy_association",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_s3_bucket_acl",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_cors_configuration",
        "aws_s3_bucket_notification",
        "aws_s3_bucket_logging",
        "aws_s3_bucket_website_configuration",
        "aws_sqs_queue_policy",
        "aws_lambda_permission",
        "aws_lambda_alias",
        "aws_lambda_event_source_mapping",
        "aws_cloudwatch_log_stream",
        "aws_cloudwatch_log_subscription_filter",
        "aws_cloudwatch_log_resource_policy",
        "aws_kms_alias",
        "aws_dynamodb_table_item",
        "aws_efs_mount_target",
        "aws_batch_compute_environment",  # its EC2 instances are launched and billed as EC2's
        "aws_batch_job_definition",
        "aws_batch_job_queue",
        "aws_ecs_cluster",
        "aws_ecs_cluster_capacity_providers",
        "aws_ecs_capacity_provider",
        "aws_ecs_task_definition",
        "aws_ecs_task_set",
        "aws_efs_access_point",
        "aws_efs_file_system_policy",
        "aws_efs_backup_policy",
        "aws_ebs_encryption_by_default",
        "aws_ebs_default_kms_key",
        # scaling configuration: the capacity it sets is priced on the resource it scales
        "aws_appautoscaling_target",
        "aws_appautoscaling_policy",
        "aws_appautoscaling_scheduled_action",
        # Terraform's own utility providers
        "null_resource",
        "terraform_data",
        "random_id",
        "random_password",
        "random_string",
        "random_pet",
        "random_integer",
        "random_uuid",
        "random_shuffle",
        "time_sleep",
        "time_static",
        "time_rotating",
        "time_offset",
        "tls_private_key",
        "tls_self_signed_cert",
        "tls_cert_request",
        "tls_locally_signed_cert",
        "local_file",
        "local_sensitive_file",
        "template_dir",
    }
)
# Ours and every type Infracost lists as free (free_types.py).
FREE_RESOURCE_TYPES: frozenset[str] = _KNOWN_FREE_TYPES | INFRACOST_FREE_TYPES
