"""``cloudcostguard policy test``: the webhook's verdict and message; exit 0 admitted, 1 denied, 2 bad."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from cloudcostguard.cli import main
from cloudcostguard.k8s.admission import decision as admission
from cloudcostguard.k8s.testing import InMemoryClusterState
from tests.integration.admission.support import WebhookHarness, cost_estimate, cost_policy, review
from tests.plans import nat_plan

CONSOLE_SCRIPT = Path(sys.executable).parent / "cloudcostguard"
TIMEOUT = 60  # seconds, for the subprocess case on a shared machine


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    out, err = capsys.readouterr()
    assert isinstance(caught.value.code, int)
    return caught.value.code, out, err


@pytest.fixture
def files(tmp_path: Path) -> Any:
    def write(policies: list[dict[str, Any]], plan: dict[str, Any] | None = None) -> list[str]:
        policy_file = tmp_path / "policies.yaml"
        policy_file.write_text(yaml.safe_dump_all(policies))
        plan_file = tmp_path / "plan.json"
        plan_file.write_bytes(orjson.dumps(plan if plan is not None else nat_plan(4)))
        return ["policy", "test", "--policy", str(policy_file), "--plan", str(plan_file)]

    return write


def test_denied_exits_1_with_the_webhooks_message(files: Any, capsys: pytest.CaptureFixture[str]) -> None:
    argv = files([cost_policy("team-cap", maxMonthlyCost="100")])
    code, out, err = run(argv, capsys)
    assert (code, err) == (1, "")
    assert out == (
        "estimate: 131.40 USD/month (past 0.00, diff 131.40)\n"
        "verdict: Deny (denied, HTTP 403)\n"
        "message: CostPolicy team-cap: monthly cost 131.40 USD exceeds maxMonthlyCost 100.00 USD by 31.40 "
        "USD. Top cost drivers: aws_nat_gateway.gw_new_0 32.85 USD, aws_nat_gateway.gw_new_1 32.85 USD, "
        "aws_nat_gateway.gw_new_2 32.85 USD\n"
    )


def test_within_budget_exits_0(files: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(files([cost_policy("team-cap", maxMonthlyCost="200")]), capsys)
    assert code == 0
    assert "verdict: WithinBudget (admitted)\nmessage: within 1 CostPolicy (team-cap)\n" in out


def test_warn_and_dry_run_are_admitted(files: Any, capsys: pytest.CaptureFixture[str]) -> None:
    argv = files(
        [
            cost_policy("heads-up", "Warn", maxMonthlyCost="100"),
            cost_policy("audit", "DryRun", maxMonthlyCost="1"),
        ]
    )
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert "verdict: Warn (admitted)\n" in out
    assert (
        "warning: CostPolicy heads-up: maxMonthlyCost 100.00 USD exceeded by 31.40 USD "
        "(cost 131.40 USD/month)\n" in out
    )


def test_namespace_spend_counts_toward_the_budget(files: Any, capsys: pytest.CaptureFixture[str]) -> None:
    argv = files([cost_policy("ns", namespaceMonthlyBudget="1000")])
    code, out, _ = run([*argv, "--namespace-spend", "900.00", "--namespace", "team-a"], capsys)
    assert code == 1
    assert (
        "message: CostPolicy ns: namespace team-a would spend 1031.40 USD/month (this estimate 131.40 USD), "
        "over namespaceMonthlyBudget 1000.00 USD by 31.40 USD."
    ) in out


def test_selectors_apply_only_when_labels_are_given(files: Any, capsys: pytest.CaptureFixture[str]) -> None:
    argv = files([cost_policy("gpu", selector={"matchLabels": {"kind": "gpu"}}, maxMonthlyCost="1")])
    assert run(argv, capsys)[0] == 1  # no labels given: every policy in the file applies
    assert run([*argv, "--labels", "kind=web"], capsys)[0] == 0
    assert run([*argv, "--labels", "kind=gpu,team=a"], capsys)[0] == 1
    prod = files(
        [cost_policy("prod", namespace_selector={"matchLabels": {"env": "prod"}}, maxMonthlyCost="1")]
    )
    assert run([*prod, "--namespace-labels", "env=dev"], capsys)[0] == 0
    assert run([*prod, "--namespace-labels", "env=prod"], capsys)[0] == 1


def test_json_output_and_list_documents(
    tmp_path: Path, files: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = files([])
    Path(argv[3]).write_text(
        yaml.safe_dump(
            {"apiVersion": "v1", "kind": "List", "items": [cost_policy("cap", maxMonthlyCost="50")]}
        )
    )
    code, out, _ = run([*argv, "--format", "json"], capsys)
    document = orjson.loads(out)
    assert code == 1
    assert {k: document[k] for k in ("allowed", "verdict", "code", "policies", "violations", "estimate")} == {
        "allowed": False,
        "verdict": "Deny",
        "code": 403,
        "policies": ["cap"],
        "violations": [
            {
                "policy": "cap",
                "enforcement": "Deny",
                "limit": "maxMonthlyCost",
                "limitValue": "50",
                "actual": "131.40",
                "excess": "81.40",
            }
        ],
        "estimate": {
            "currency": "USD",
            "monthlyCost": "131.40",
            "pastMonthlyCost": "0.00",
            "diffMonthlyCost": "131.40",
        },
    }


async def test_the_verdict_and_message_are_the_webhooks(
    files: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = [
        cost_policy("team-cap", maxMonthlyCost="100", message="Ask #finops."),
        cost_policy("growth", "Warn", maxMonthlyIncrease="50"),
    ]
    argv = files(policies)
    code, out, _ = run([*argv, "--namespace", "team-a", "--name", "web", "--namespace-labels", ""], capsys)
    state = InMemoryClusterState(policies=policies)
    async with WebhookHarness(state) as harness:
        response = await harness.both(
            admission.HANDLER_COSTESTIMATE, review(cost_estimate("web", plan=nat_plan(4)))
        )
    assert code == 1
    assert f"message: {response['status']['message']}\n" in out
    assert [line.removeprefix("warning: ") for line in out.splitlines() if line.startswith("warning: ")] == (
        response["warnings"]
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"--policy": "/nonexistent/p.yaml"},
            "cloudcostguard: error: policy file not found: /nonexistent/p.yaml",
        ),
        ({"policy_text": "a: [unclosed"}, "is not valid YAML (line 1)"),
        ({"policy_text": ""}, "has no CostPolicy"),
        (
            {"policy_text": "kind: CostPolicy\nmetadata: {name: p}\nspec: {limits: {maxMonthlyCost: 250}}"},
            'CostPolicy p: spec.limits.maxMonthlyCost must be a decimal string like "250.00" (quote it in',
        ),
        ({"plan_text": "{not json"}, "cloudcostguard: error: plan is not valid JSON"),
        ({"--namespace-spend": "-3"}, "--namespace-spend must be a non-negative decimal string"),
        ({"--labels": "justakey"}, "--labels takes KEY=VALUE pairs separated by commas, not 'justakey'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    files: Any, capsys: pytest.CaptureFixture[str], change: dict[str, str], message: str
) -> None:
    argv = files([cost_policy("cap", maxMonthlyCost="50")])
    if "policy_text" in change:
        Path(argv[3]).write_text(change.pop("policy_text"))
    if "plan_text" in change:
        Path(argv[5]).write_text(change.pop("plan_text"))
    for flag, value in change.items():
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    code, out, err = run(argv, capsys)
    assert (code, out) == (2, "")
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_the_installed_command_exits_1_without_a_traceback(files: Any) -> None:
    argv = files([cost_policy("cap", maxMonthlyCost="50")])
    result = subprocess.run(
        [str(CONSOLE_SCRIPT), *argv], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 1
    assert result.stdout.startswith("estimate: 131.40 USD/month")
    assert result.stderr == ""


def _plan_with_an_unsupported_type() -> dict[str, Any]:
    document = nat_plan(2)
    document["resource_changes"].append(
        {
            "address": "aws_made_up_thing.new",
            "mode": "managed",
            "type": "aws_made_up_thing",
            "name": "new",
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": ["create"], "before": None, "after": {}, "after_unknown": {}},
        }
    )
    return document


@pytest.mark.parametrize(
    ("modes", "expected"),
    [
        (("Deny", "Deny"), (1, "Deny")),
        (("Deny", None), (0, "Warn")),  # the default: admitted, with warnings naming the addresses
        (("Warn", "Deny"), (0, "Warn")),
        (("DryRun", "Deny"), (0, "DryRun")),
        (("Deny", "Ignore"), (0, "WithinBudget")),
    ],
)
async def test_unpriced_verdicts_are_the_webhooks(
    files: Any,
    capsys: pytest.CaptureFixture[str],
    modes: tuple[str, str | None],
    expected: tuple[int, str],
) -> None:
    (enforcement, unpriced), (code, verdict) = modes, expected
    policies = [cost_policy("team-cap", enforcement, unpriced=unpriced, maxMonthlyCost="1000")]
    document = _plan_with_an_unsupported_type()
    argv = files(policies, document)
    found, out, _ = run([*argv, "--namespace", "team-a", "--name", "web", "--format", "json"], capsys)
    result = orjson.loads(out)
    async with WebhookHarness(InMemoryClusterState(policies=policies)) as harness:
        response = await harness.both(
            admission.HANDLER_COSTESTIMATE, review(cost_estimate("web", plan=document))
        )
    assert (found, result["verdict"], result["allowed"]) == (code, verdict, response["allowed"])
    assert result["warnings"] == response.get("warnings", [])
    if not response["allowed"]:
        assert result["message"] == response["status"]["message"]
        assert response["status"]["code"] == 403
        assert "aws_made_up_thing.new (type not supported)" in result["message"]
        assert result["violations"][0]["unpriced"] == ["aws_made_up_thing.new"]
    if verdict == "Warn":
        assert result["warnings"][-1] == "not priced: aws_made_up_thing.new"
