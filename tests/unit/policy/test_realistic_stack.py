"""Issue 10's realistic stack (tests/fixtures/terraform/realistic_stack, planned by real Terraform): no
unsupported type, and budgets that a resource we cannot price does not slip past — the same verdict
from the admission webhook's decision and from ``cloudcostguard policy test``."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

import cloudcostguard
from cloudcostguard.cli import main
from cloudcostguard.cli import policy as policy_cli
from cloudcostguard.k8s.admission import decision as admission
from cloudcostguard.k8s.admission.decision import AdmissionRequest, AdmissionRuntime
from cloudcostguard.k8s.testing import InMemoryClusterState
from cloudcostguard.policy.evaluation import Decision, Verdict
from cloudcostguard.pricing.catalog import Price, PriceCatalog, PriceTier
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import Settings
from tests.integration.admission.support import cost_estimate, cost_policy, review
from tests.plans import change

PLAN = Path(__file__).resolve().parents[2] / "fixtures" / "terraform" / "realistic_stack" / "plan.json"
# What the stack is made of (each family at least once).
STACK_TYPES = {
    "aws_eks_cluster",
    "aws_eks_fargate_profile",
    "aws_eks_node_group",
    "aws_rds_cluster",
    "aws_rds_cluster_instance",
    "aws_autoscaling_group",
    "aws_launch_template",
    "aws_cloudfront_distribution",
    "aws_vpc_endpoint",
    "aws_kms_key",
    "aws_secretsmanager_secret",
    "aws_sns_topic",
    "aws_sqs_queue",
    "aws_apigatewayv2_api",
    "aws_api_gateway_rest_api",
    "aws_api_gateway_stage",
    "aws_msk_cluster",
    "aws_opensearch_domain",
}
# Not priced yet (Infracost prices it from usage): the change an `unpriced: Deny` policy must refuse.
SUBSCRIPTION = change(
    "aws_sns_topic_subscription.orders",
    ["create"],
    after={"protocol": "sqs", "raw_message_delivery": False},
    after_unknown={"arn": True, "endpoint": True, "topic_arn": True},
)


class StandInPrices:
    """The bundled prices, and a stand-in price for every product the snapshot lacks (Aurora, MSK,
    OpenSearch, … in us-east-1 come from AWS's offer files in production): the unsupported type is then
    the only thing these tests' estimates cannot price. No amount is asserted from it."""

    source = "test"
    version = "stand-in"

    def __init__(self) -> None:
        self._bundled = load_bundled_catalog()

    def lookup(self, service: str, region: str, /, **attributes: str) -> Price | None:
        found = self._bundled.lookup(service, region, **attributes)
        return found or Price("Hrs", (PriceTier(Decimal(0), None, Decimal("0.01")),), origin="stand-in")


def stack(*extra: dict[str, Any]) -> dict[str, Any]:
    document = orjson.loads(PLAN.read_bytes())
    document["resource_changes"] = [*document["resource_changes"], *copy.deepcopy(list(extra))]
    return document


async def webhook(
    document: dict[str, Any], policies: list[dict[str, Any]], catalog: PriceCatalog
) -> Decision:
    runtime = AdmissionRuntime(
        settings=Settings(), state=InMemoryClusterState(policies=policies), catalog=lambda: catalog
    )
    payload = review(cost_estimate("shop", plan=document))["request"]
    return await admission.decide(
        AdmissionRequest.from_payload(admission.HANDLER_COSTESTIMATE, payload), runtime
    )


@pytest.fixture
def policy_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``cloudcostguard policy test --format json`` on a plan and policies: (exit code, its JSON)."""

    def run(document: dict[str, Any], policies: list[dict[str, Any]], catalog: PriceCatalog) -> Any:
        (tmp_path / "policies.yaml").write_text(yaml.safe_dump_all(policies))
        (tmp_path / "plan.json").write_bytes(orjson.dumps(document))
        monkeypatch.setattr(policy_cli, "active_catalog", lambda *_: catalog)
        argv = ["policy", "test", "--policy", str(tmp_path / "policies.yaml")]
        argv += ["--plan", str(tmp_path / "plan.json"), "--name", "shop", "--namespace", "team-a"]
        with pytest.raises(SystemExit) as caught:
            main([*argv, "--format", "json"])
        out, _ = capsys.readouterr()
        assert isinstance(caught.value.code, int)
        return caught.value.code, orjson.loads(out)

    return run


def test_the_realistic_stack_has_no_unsupported_type() -> None:
    estimate = cloudcostguard.estimate(PLAN.read_bytes())
    assert {r.resource_type for r in estimate.resources} >= STACK_TYPES
    coverage = estimate.coverage()
    assert coverage.unsupported == []
    assert estimate.summary()["unsupportedResourceCounts"] == {}
    assert len(coverage.priced) + len(coverage.price_not_found) + len(coverage.free) == len(
        estimate.resources
    )
    with_stand_ins = cloudcostguard.estimate(PLAN.read_bytes(), catalog=StandInPrices())
    assert with_stand_ins.unpriced_additions() == []


@pytest.mark.parametrize(
    ("modes", "verdict", "code"),
    [
        (("Deny", "Deny"), Verdict.DENY, 1),
        (("Deny", None), Verdict.WARN, 0),  # the default, unpriced: Warn
        (("Warn", "Deny"), Verdict.WARN, 0),  # enforcement Warn never denies
    ],
)
async def test_a_not_yet_priced_type_under_each_policy(
    modes: tuple[str, str | None], verdict: Verdict, code: int, policy_test: Any
) -> None:
    enforcement, unpriced = modes
    policies = [cost_policy("shop-budget", enforcement, unpriced=unpriced, maxMonthlyCost="100000")]
    catalog = StandInPrices()
    decided = await webhook(stack(SUBSCRIPTION), policies, catalog)
    exit_code, tested = policy_test(stack(SUBSCRIPTION), policies, catalog)
    assert (decided.verdict, exit_code, tested["verdict"]) == (verdict, code, verdict.value)
    assert (tested["message"], tuple(tested["warnings"])) == (decided.message, decided.warnings)
    if verdict is Verdict.DENY:
        assert (decided.allowed, decided.code) == (False, 403)
        assert decided.message.startswith(
            "CostPolicy shop-budget: adds 1 resource that cannot be priced, so no limit counts them: "
            "aws_sns_topic_subscription.orders (type not supported). Top cost drivers: "
        )
    else:
        assert decided.allowed
        assert decided.warnings == (
            "CostPolicy shop-budget: adds 1 resource that cannot be priced (not counted in its limits)",
            "not priced: aws_sns_topic_subscription.orders",
        )
    # Without the subscription the same policy finds nothing to say.
    alone = await webhook(stack(), policies, catalog)
    assert (alone.verdict, alone.warnings) == (Verdict.WITHIN_BUDGET, ())


async def test_prices_the_bundled_snapshot_lacks_are_refused_too() -> None:
    """With the bundled snapshot (no Aurora, MSK, OpenSearch, … prices for us-east-1), the stack itself
    adds resources whose cost is missing: under unpriced: Deny it is refused, naming them."""
    policies = [cost_policy("shop-budget", "Deny", unpriced="Deny", maxMonthlyCost="100000")]
    decided = await webhook(stack(), policies, load_bundled_catalog())
    assert decided.verdict is Verdict.DENY
    expected = [r.address for r in cloudcostguard.estimate(PLAN.read_bytes()).unpriced_additions()]
    (violation,) = decided.violations
    assert list(violation.unpriced) == expected
    assert "aws_msk_cluster.events (no price: Instance (kafka.m5.large), Storage)" in decided.message
    assert f"adds {len(expected)} resources that cannot be priced" in decided.message
