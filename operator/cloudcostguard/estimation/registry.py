"""The pricer table: resource type → small function returning its cost components.

Adding a resource type touches one module under ``estimation/aws/`` (every module there is imported
by the estimator, and registers here with ``@pricer("aws_x", usage=...)`` or ``table_pricer``) and
one test folder; ``estimation/aws/README.md`` says how.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.kit import Prices, Shape, TablePricer, TieredUsage, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.usage import ResourceUsage
from cloudcostguard.plan.frozen import fast_init
from cloudcostguard.plan.references import PlanReferences, Reference
from cloudcostguard.plan.regions import strip_indexes
from cloudcostguard.pricing.catalog import PriceCatalog


@fast_init
@dataclass(frozen=True, slots=True)
class PricingContext:
    """Everything a pricer may use for one side (before or after) of one resource change."""

    address: str
    resource_type: str
    region: str
    attrs: Attributes
    usage: ResourceUsage
    catalog: PriceCatalog
    hours_per_month: Decimal
    # The whole plan's cross-resource references. Keyword-only, so that contexts extended with more
    # fields (a subclass adding a required one) stay valid dataclasses.
    references: PlanReferences | None = field(default=None, kw_only=True)
    # The day prices apply on (support calendars: EKS extended support, RDS Extended Support years).
    # One value per estimate, so an estimate never straddles midnight; None means today (UTC).
    as_of: date | None = field(default=None, kw_only=True)
    # Another resource's usage (address, type) → values: an autoscaling target's `capacity` decides
    # what the table it scales runs.
    usage_of: Callable[[str, str], ResourceUsage] | None = field(default=None, kw_only=True)

    @property
    def pricing_date(self) -> date:
        return self.as_of if self.as_of is not None else datetime.now(UTC).date()

    @property
    def config_address(self) -> str:
        """The resource's configuration address: its address without instance keys."""
        return strip_indexes(self.address)

    def prices(self, service: str, region: str | None = None) -> Prices:
        """Lookups bound to ``service`` in this resource's region (or ``region``, for global offers)."""
        return Prices(self.catalog, service, self.region if region is None else region, self.hours_per_month)

    def referenced_by(self) -> list[Reference]:
        """Expressions of other managed resources that refer to this one: the NAT gateway or the
        association holding an Elastic IP, whatever the IP's own values say."""
        if self.references is None:
            return []
        return self.references.referencing(self.config_address)


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
FREE_RESOURCE_TYPES: frozenset[str] = frozenset(
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
        # The rest of Infracost's FreeResources list (registry.go @ 95ba4f49; the recorded copy is
        # tests/fixtures/infracost/free_resources.txt): configuration, access and plumbing types that
        # cost nothing by themselves.
        "aws_accessanalyzer_analyzer",
        "aws_accessanalyzer_archive_rule",
        "aws_account_alternate_contact",
        "aws_acm_certificate_validation",
        "aws_acmpca_permission",
        "aws_acmpca_policy",
        "aws_alb_listener_certificate",
        "aws_ami_launch_permission",
        "aws_amplify_backend_environment",
        "aws_amplify_branch",
        "aws_amplify_domain_association",
        "aws_amplify_webhook",
        "aws_api_gateway_account",
        "aws_api_gateway_api_key",
        "aws_api_gateway_authorizer",
        "aws_api_gateway_base_path_mapping",
        "aws_api_gateway_client_certificate",
        "aws_api_gateway_deployment",
        "aws_api_gateway_documentation_part",
        "aws_api_gateway_documentation_version",
        "aws_api_gateway_domain_name",
        "aws_api_gateway_gateway_response",
        "aws_api_gateway_integration",
        "aws_api_gateway_integration_response",
        "aws_api_gateway_method",
        "aws_api_gateway_method_response",
        "aws_api_gateway_method_settings",
        "aws_api_gateway_model",
        "aws_api_gateway_request_validator",
        "aws_api_gateway_resource",
        "aws_api_gateway_response",
        "aws_api_gateway_rest_api_policy",
        "aws_api_gateway_usage_plan",
        "aws_api_gateway_usage_plan_key",
        "aws_api_gateway_vpc_link",
        "aws_apigatewayv2_api_mapping",
        "aws_apigatewayv2_authorizer",
        "aws_apigatewayv2_deployment",
        "aws_apigatewayv2_domain_name",
        "aws_apigatewayv2_integration",
        "aws_apigatewayv2_integration_response",
        "aws_apigatewayv2_model",
        "aws_apigatewayv2_route",
        "aws_apigatewayv2_route_response",
        "aws_apigatewayv2_stage",
        "aws_apigatewayv2_vpc_link",
        "aws_app_cookie_stickiness_policy",
        "aws_appconfig_configuration_profile",
        "aws_appconfig_extension",
        "aws_appconfig_extension_association",
        "aws_appconfig_hosted_configuration_version",
        "aws_appflow_connector_profile",
        "aws_appintegrations_event_integration",
        "aws_appmesh_gateway_route",
        "aws_appmesh_mesh",
        "aws_appmesh_route",
        "aws_appmesh_virtual_gateway",
        "aws_appmesh_virtual_node",
        "aws_appmesh_virtual_router",
        "aws_appmesh_virtual_service",
        "aws_apprunner_custom_domain_association",
        "aws_appstream_fleet_stack_association",
        "aws_autoscaling_attachment",
        "aws_autoscaling_lifecycle_hook",
        "aws_autoscaling_notification",
        "aws_backup_global_settings",
        "aws_backup_plan",
        "aws_backup_region_settings",
        "aws_backup_selection",
        "aws_backup_vault_notifications",
        "aws_backup_vault_policy",
        "aws_batch_job_queue",
        "aws_budgets_budget",
        "aws_cloudformation_stack_set_instance",
        "aws_cloudformation_type",
        "aws_cloudfront_cache_policy",
        "aws_cloudfront_key_group",
        "aws_cloudfront_origin_access_control",
        "aws_cloudfront_origin_access_identity",
        "aws_cloudfront_origin_request_policy",
        "aws_cloudfront_public_key",
        "aws_cloudfront_response_headers_policy",
        "aws_cloudhsm_v2_cluster",
        "aws_cloudwatch_event_api_destination",
        "aws_cloudwatch_event_bus_policy",
        "aws_cloudwatch_event_connection",
        "aws_cloudwatch_event_permission",
        "aws_cloudwatch_event_rule",
        "aws_cloudwatch_log_destination",
        "aws_cloudwatch_log_destination_policy",
        "aws_cloudwatch_log_metric_filter",
        "aws_codebuild_report_group",
        "aws_codebuild_source_credential",
        "aws_codebuild_webhook",
        "aws_codedeploy_app",
        "aws_codedeploy_deployment_config",
        "aws_cognito_identity_pool_roles_attachment",
        "aws_cognito_resource_server",
        "aws_cognito_user_pool_client",
        "aws_config_aggregate_authorization",
        "aws_config_configuration_aggregator",
        "aws_config_configuration_recorder_status",
        "aws_config_delivery_channel",
        "aws_config_remediation_configuration",
        "aws_customer_gateway",
        "aws_db_event_subscription",
        "aws_db_instance_role_association",
        "aws_db_proxy_default_target_group",
        "aws_db_proxy_target",
        "aws_default_vpc_dhcp_options",
        "aws_dms_certificate",
        "aws_dms_endpoint",
        "aws_dms_event_subscription",
        "aws_dms_replication_subnet_group",
        "aws_dms_replication_task",
        "aws_dms_s3_endpoint",
        "aws_docdb_cluster_parameter_group",
        "aws_docdb_subnet_group",
        "aws_dx_bgp_peer",
        "aws_dx_gateway",
        "aws_dx_gateway_association_proposal",
        "aws_dx_hosted_private_virtual_interface",
        "aws_dx_hosted_private_virtual_interface_accepter",
        "aws_dx_hosted_public_virtual_interface",
        "aws_dx_hosted_public_virtual_interface_accepter",
        "aws_dx_hosted_transit_virtual_interface",
        "aws_dx_hosted_transit_virtual_interface_accepter",
        "aws_dx_lag",
        "aws_dx_private_virtual_interface",
        "aws_dx_public_virtual_interface",
        "aws_dx_transit_virtual_interface",
        "aws_ec2_client_vpn_authorization_rule",
        "aws_ec2_client_vpn_route",
        "aws_ec2_managed_prefix_list",
        "aws_ec2_managed_prefix_list_entry",
        "aws_ec2_tag",
        "aws_ec2_traffic_mirror_filter",
        "aws_ec2_traffic_mirror_filter_rule",
        "aws_ec2_traffic_mirror_target",
        "aws_ec2_transit_gateway",
        "aws_ec2_transit_gateway_peering_attachment_accepter",
        "aws_ec2_transit_gateway_route",
        "aws_ec2_transit_gateway_route_table",
        "aws_ec2_transit_gateway_route_table_association",
        "aws_ec2_transit_gateway_route_table_propagation",
        "aws_ec2_transit_gateway_vpc_attachment_accepter",
        "aws_ecr_pull_through_cache_rule",
        "aws_ecr_repository_policy",
        "aws_ecs_account_setting_default",
        "aws_eks_pod_identity_association",
        "aws_elastic_beanstalk_application",
        "aws_elasticache_security_group",
        "aws_elasticache_user",
        "aws_elasticache_user_group",
        "aws_elasticache_user_group_association",
        "aws_elasticsearch_domain_policy",
        "aws_elasticsearch_domain_saml_options",
        "aws_globalaccelerator_listener",
        "aws_glue_catalog_table",
        "aws_glue_classifier",
        "aws_glue_connection",
        "aws_glue_data_catalog_encryption_settings",
        "aws_glue_partition",
        "aws_glue_partition_index",
        "aws_glue_registry",
        "aws_glue_resource_policy",
        "aws_glue_schema",
        "aws_glue_security_configuration",
        "aws_glue_trigger",
        "aws_glue_user_defined_function",
        "aws_glue_workflow",
        "aws_iam_account_alias",
        "aws_iam_account_password_policy",
        "aws_iam_saml_provider",
        "aws_iam_server_certificate",
        "aws_iam_user_group_membership",
        "aws_iam_user_login_profile",
        "aws_iam_user_ssh_key",
        "aws_imagebuilder_component",
        "aws_imagebuilder_image_pipeline",
        "aws_iot_policy",
        "aws_iot_role_alias",
        "aws_kms_ciphertext",
        "aws_kms_grant",
        "aws_kms_key_policy",
        "aws_lambda_code_signing_config",
        "aws_lambda_function_event_invoke_config",
        "aws_lambda_function_url",
        "aws_lambda_layer_version",
        "aws_lambda_layer_version_permission",
        "aws_lb_cookie_stickiness_policy",
        "aws_lb_listener_certificate",
        "aws_lb_ssl_negotiation_policy",
        "aws_lightsail_domain",
        "aws_lightsail_key_pair",
        "aws_lightsail_static_ip",
        "aws_lightsail_static_ip_attachment",
        "aws_load_balancer_backend_server_policy",
        "aws_load_balancer_listener_policy",
        "aws_load_balancer_policy",
        "aws_mq_configuration",
        "aws_msk_configuration",
        "aws_msk_scram_secret_association",
        "aws_neptune_cluster_parameter_group",
        "aws_neptune_event_subscription",
        "aws_neptune_parameter_group",
        "aws_neptune_subnet_group",
        "aws_network_interface_sg_attachment",
        "aws_networkfirewall_firewall_policy",
        "aws_networkfirewall_logging_configuration",
        "aws_networkfirewall_rule_group",
        "aws_opensearch_domain_policy",
        "aws_opensearch_domain_saml_options",
        "aws_opsworks_user_profile",
        "aws_organizations_account",
        "aws_organizations_organizational_unit",
        "aws_organizations_policy",
        "aws_organizations_policy_attachment",
        "aws_ram_principal_association",
        "aws_ram_resource_association",
        "aws_ram_resource_share",
        "aws_ram_resource_share_accepter",
        "aws_rds_cluster_endpoint",
        "aws_rds_cluster_parameter_group",
        "aws_rds_cluster_role_association",
        "aws_redshift_cluster_iam_roles",
        "aws_resourcegroups_group",
        "aws_resourcegroups_resource",
        "aws_route53_resolver_dnssec_config",
        "aws_route53_resolver_query_log_config",
        "aws_route53_resolver_query_log_config_association",
        "aws_route53_resolver_rule",
        "aws_route53_resolver_rule_association",
        "aws_route53_vpc_association_authorization",
        "aws_route53_zone_association",
        "aws_s3_access_point",
        "aws_s3_account_public_access_block",
        "aws_s3_bucket_metric",
        "aws_s3_bucket_object",
        "aws_s3_bucket_object_lock_configuration",
        "aws_s3_bucket_replication_configuration",
        "aws_s3_object",
        "aws_sagemaker_user_profile",
        "aws_scheduler_schedule_group",
        "aws_secretsmanager_secret_policy",
        "aws_secretsmanager_secret_rotation",
        "aws_secretsmanager_secret_version",
        "aws_service_discovery_http_namespace",
        "aws_service_discovery_service",
        "aws_ses_active_receipt_rule_set",
        "aws_ses_configuration_set",
        "aws_ses_domain_dkim",
        "aws_ses_domain_identity",
        "aws_ses_domain_identity_verification",
        "aws_ses_domain_mail_from",
        "aws_ses_email_identity",
        "aws_ses_event_destination",
        "aws_ses_identity_notification_topic",
        "aws_ses_identity_policy",
        "aws_ses_receipt_filter",
        "aws_ses_receipt_rule",
        "aws_ses_receipt_rule_set",
        "aws_ses_template",
        "aws_sesv2_configuration_set",
        "aws_sesv2_configuration_set_event_destination",
        "aws_sesv2_contact_list",
        "aws_sesv2_email_identity",
        "aws_sesv2_email_identity_feedback_attributes",
        "aws_sesv2_email_identity_mail_from_attributes",
        "aws_sesv2_email_identity_policy",
        "aws_shield_drt_access_role_arn_association",
        "aws_shield_protection_health_check_association",
        "aws_sns_platform_application",
        "aws_sns_sms_preferences",
        "aws_sns_topic_policy",
        "aws_sqs_queue_redrive_allow_policy",
        "aws_sqs_queue_redrive_policy",
        "aws_ssm_association",
        "aws_ssm_document",
        "aws_ssm_maintenance_window",
        "aws_ssm_maintenance_window_target",
        "aws_ssm_maintenance_window_task",
        "aws_ssm_patch_baseline",
        "aws_ssm_patch_group",
        "aws_ssm_resource_data_sync",
        "aws_ssoadmin_account_assignment",
        "aws_ssoadmin_application",
        "aws_ssoadmin_application_access_scope",
        "aws_ssoadmin_application_assignment",
        "aws_ssoadmin_application_assignment_configuration",
        "aws_ssoadmin_customer_managed_policy_attachment",
        "aws_ssoadmin_instance_access_control_attributes",
        "aws_ssoadmin_managed_policy_attachment",
        "aws_ssoadmin_permission_set",
        "aws_ssoadmin_permission_set_inline_policy",
        "aws_ssoadmin_permissions_boundary_attachment",
        "aws_ssoadmin_trusted_token_issuer",
        "aws_transfer_access",
        "aws_transfer_ssh_key",
        "aws_transfer_tag",
        "aws_transfer_user",
        "aws_vpc_endpoint_connection_notification",
        "aws_vpc_endpoint_security_group_association",
        "aws_vpc_endpoint_service",
        "aws_vpc_endpoint_service_allowed_principal",
        "aws_vpc_endpoint_subnet_association",
        "aws_vpc_ipv4_cidr_block_association",
        "aws_vpc_peering_connection",
        "aws_vpc_peering_connection_options",
        "aws_vpn_connection_route",
        "aws_vpn_gateway",
        "aws_vpn_gateway_attachment",
        "aws_vpn_gateway_route_propagation",
        "aws_waf_byte_match_set",
        "aws_waf_geo_match_set",
        "aws_waf_ipset",
        "aws_waf_rate_based_rule",
        "aws_waf_regex_match_set",
        "aws_waf_regex_pattern_set",
        "aws_waf_rule",
        "aws_waf_rule_group",
        "aws_waf_size_constraint_set",
        "aws_waf_sql_injection_match_set",
        "aws_waf_xss_match_set",
        "aws_wafregional_byte_match_set",
        "aws_wafregional_size_constraint_set",
        "aws_wafregional_sql_injection_match_set",
        "aws_wafregional_web_acl_association",
        "aws_wafregional_xss_match_set",
        "aws_wafv2_ip_set",
        "aws_wafv2_regex_pattern_set",
        "aws_wafv2_rule_group",
        "aws_wafv2_web_acl_association",
        "aws_wafv2_web_acl_logging_configuration",
        "template_dir",
    }
)
