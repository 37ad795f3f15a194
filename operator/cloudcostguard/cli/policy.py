"""``cloudcostguard policy test --policy FILE --plan FILE [--usage FILE] [--namespace-spend AMOUNT]``.

The verdict and message the admission webhook would give a CostEstimate with this plan, for CI pipelines
before GitOps: exit 0 when it would be admitted (within budget, Warn, DryRun), 1 when denied, 2 on bad
input (one line on stderr).

Selectors: with ``--labels``/``--namespace-labels`` the policies' selectors are evaluated as in the
cluster; without either, every policy in the file applies (a CI job testing a policy file means it).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cloudcostguard import errors
from cloudcostguard.cli.common import active_catalog, read_input
from cloudcostguard.policy.model import CostPolicy

EXIT_ADMITTED, EXIT_DENIED = 0, 1
MAX_POLICY_FILE_BYTES = 1024 * 1024  # a policy file is a few kilobytes; this bounds a YAML bomb's input


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "policy", help="work with CostPolicies", description="Work with CostPolicies."
    )
    actions = parser.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    test = actions.add_parser(
        "test",
        help="judge a plan against CostPolicies as the admission webhook would",
        description="Print the verdict and message the admission webhook would give a CostEstimate with "
        "this plan. Exit 0 when admitted, 1 when denied, 2 on bad input.",
    )
    test.add_argument(
        "--policy", required=True, metavar="FILE", help="CostPolicy YAML (several documents ok)"
    )
    test.add_argument("--plan", required=True, metavar="FILE", help="plan JSON (terraform show -json), or -")
    test.add_argument("--usage", metavar="FILE", help="Infracost-compatible usage file (YAML)")
    test.add_argument(
        "--namespace-spend",
        metavar="AMOUNT",
        default="0",
        help="monthly cost of the namespace's other CostEstimates, e.g. 1200.50 (default: 0)",
    )
    test.add_argument("--namespace", default="default", help="namespace named in messages (default: default)")
    test.add_argument("--name", default="costestimate", help="CostEstimate name (default: costestimate)")
    test.add_argument("--labels", metavar="K=V,...", help="the CostEstimate's labels (for spec.selector)")
    test.add_argument(
        "--namespace-labels", metavar="K=V,...", help="the namespace's labels (for spec.namespaceSelector)"
    )
    test.add_argument("--format", choices=("text", "json"), default="text", help="output (default: text)")
    test.add_argument(
        "--database-url", metavar="URL", help="price from the pricing store (env CCG_DATABASE_URL)"
    )
    test.add_argument("--default-region", metavar="REGION", help="region when the plan sets none")
    test.set_defaults(handler=run_test)


def parse_labels(text: str | None, flag: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise errors.CloudCostGuardError(
                f"{flag} takes KEY=VALUE pairs separated by commas, not {item!r}"
            )
        labels[key.strip()] = value.strip()
    return labels


def read_policies(payload: bytes, path: str) -> list[CostPolicy]:
    import yaml  # noqa: PLC0415 - keeps `--help` fast

    try:
        documents = [doc for doc in yaml.safe_load_all(payload) if doc is not None]
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise errors.PolicyError(f"policy file {path} is not valid YAML{line}") from err
    items: list[Any] = []
    for document in documents:
        # `kubectl get cpol -o yaml` writes a List; CI repositories keep one object per document.
        if isinstance(document, dict) and document.get("kind") in ("List", "CostPolicyList"):
            items.extend(document.get("items") or [])
        else:
            items.append(document)
    if not items:
        raise errors.PolicyError(f"policy file {path} has no CostPolicy")
    return [CostPolicy.from_object(item) for item in items]


def run_test(args: argparse.Namespace) -> int:
    import dataclasses  # noqa: PLC0415

    import orjson  # noqa: PLC0415

    import cloudcostguard  # noqa: PLC0415
    from cloudcostguard.estimation.model import money  # noqa: PLC0415
    from cloudcostguard.policy.evaluation import Candidate, evaluate  # noqa: PLC0415
    from cloudcostguard.policy.model import applicable, parse_money  # noqa: PLC0415
    from cloudcostguard.settings import load_settings  # noqa: PLC0415

    settings = load_settings(default_region=args.default_region)
    if args.plan == "-" and args.usage == "-":
        raise errors.CloudCostGuardError("the plan and the usage file cannot both be read from stdin")
    try:
        spend = parse_money(args.namespace_spend, "--namespace-spend")
    except errors.PolicyError as err:
        raise errors.CloudCostGuardError(str(err).replace(" (quote it in YAML)", "")) from err
    labels = parse_labels(args.labels, "--labels")
    namespace_labels = parse_labels(args.namespace_labels, "--namespace-labels")
    policies = read_policies(
        read_input(args.policy, what="policy", max_bytes=MAX_POLICY_FILE_BYTES), args.policy
    )
    if args.labels is None and args.namespace_labels is None:
        policies = [dataclasses.replace(p, namespace_selector=None, selector=None) for p in policies]
    namespace_labels.setdefault("kubernetes.io/metadata.name", args.namespace)

    plan = read_input(args.plan, what="plan", max_bytes=settings.max_plan_bytes)
    usage = read_input(args.usage, what="usage", max_bytes=settings.max_plan_bytes) if args.usage else None
    estimate = cloudcostguard.estimate(
        plan,
        usage=usage,
        catalog=active_catalog(args.database_url, None, settings),
        default_region=settings.default_region,
        max_plan_bytes=settings.max_plan_bytes,
        hours_per_month=settings.hours_per_month,
    )
    # The namespace's other CostEstimates, as one committed amount (the admitted object is not among them).
    committed = {"(other CostEstimates)": spend} if spend else {}
    decision = evaluate(
        namespace=args.namespace,
        candidates=[Candidate(args.name, estimate, applicable(policies, namespace_labels, labels))],
        committed=committed,
    )
    if args.format == "json":
        document = {
            "allowed": decision.allowed,
            "verdict": decision.verdict.value,
            "code": decision.code,
            "message": decision.message,
            "warnings": list(decision.warnings),
            "policies": list(decision.policies),
            "violations": [
                {
                    "policy": v.policy,
                    "enforcement": v.enforcement.value,
                    "limit": v.limit,
                    "limitValue": str(v.limit_value),
                    "actual": str(v.actual),
                    "excess": str(v.excess),
                    **({"unpriced": list(v.unpriced)} if v.unpriced else {}),
                }
                for v in decision.violations
            ],
            "estimate": {
                "currency": estimate.currency,
                "monthlyCost": money(estimate.total_monthly_cost),
                "pastMonthlyCost": money(estimate.past_total_monthly_cost),
                "diffMonthlyCost": money(estimate.diff_total_monthly_cost),
            },
        }
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        currency = estimate.currency
        lines = [
            f"estimate: {money(estimate.total_monthly_cost)} {currency}/month (past "
            f"{money(estimate.past_total_monthly_cost)}, diff {money(estimate.diff_total_monthly_cost)})",
            f"verdict: {decision.verdict.value} ({'admitted' if decision.allowed else 'denied, HTTP 403'})",
            f"message: {decision.message}",
            *(f"warning: {warning}" for warning in decision.warnings),
        ]
        sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    return EXIT_ADMITTED if decision.allowed else EXIT_DENIED
