"""tofu-controller's JSON plan Secrets (``spec.storeReadablePlan: json``) read by ``terraformRef``.

The fixture is a real plan (terraform 1.11.4, AWS provider 5.100.0, tests/fixtures/tofu/main.tf) stored
the way tofu-controller stores it: gzip, cut into 1 MiB Secrets (scripts/tofu_plan_secrets.py follows
its ``Plan.ToSecret``). The operator indexes them as kopf would hand them over and estimates the plan.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from scripts import tofu_plan_secrets

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.k8s.api.models import CostEstimateSpec
from cloudcostguard.k8s.cluster import indexes, plan_sources
from tests.unit.gitops import states

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "tofu"
NAMESPACE = "flux-system"
BASE = "tfplan-default-platform.json"
WORKERS = 310  # var.workers in main.tf


def fixture_secrets() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(FIXTURE.glob("tfplan-*.yaml"))]


def tofu_index(secrets: list[dict[str, Any]]) -> dict[tuple[str, str], list[indexes.TofuPlanChunk]]:
    """The ``tofu_plans`` index as kopf builds it: only Secrets the handlers' filter accepts."""
    index: dict[tuple[str, str], list[indexes.TofuPlanChunk]] = defaultdict(list)
    for secret in secrets:
        meta = secret["metadata"]
        assert indexes.is_tofu_json_plan(meta["name"], meta["labels"])
        for key, chunk in indexes.index_tofu_plan(
            meta["namespace"], meta["name"], meta["annotations"], secret
        ).items():
            index[key].append(chunk)
    return index


def plan_bytes(secrets: list[dict[str, Any]]) -> bytes:
    return plan_sources.read_tofu_plan(tofu_index(secrets)[(NAMESPACE, BASE)], NAMESPACE, BASE, 1 << 30)


def test_the_fixture_is_chunked_as_tofu_controller_does() -> None:
    secrets = fixture_secrets()
    assert [s["metadata"]["name"] for s in secrets] == [f"{BASE}-0", f"{BASE}-1"]
    slices = [base64.b64decode(s["data"]["tfplan"]) for s in secrets]
    assert len(slices[0]) == 1024 * 1024 and 0 < len(slices[1]) <= 1024 * 1024
    for index, (secret, piece) in enumerate(zip(secrets, slices, strict=True)):
        meta = secret["metadata"]
        assert meta["labels"] == {
            "infra.contrib.fluxcd.io/plan-name": "platform.json",
            "infra.contrib.fluxcd.io/plan-workspace": "default",
        }
        assert meta["annotations"]["infra.contrib.fluxcd.io/plan-chunk"] == str(index)
        assert meta["annotations"]["infra.contrib.fluxcd.io/plan-hash"] == hashlib.sha256(piece).hexdigest()
        assert meta["annotations"]["encoding"] == "gzip"
        assert meta["ownerReferences"][0]["kind"] == "Terraform"
    # One gzip stream cut in two: neither slice is gzip on its own, together they are the plan.
    with pytest.raises((OSError, EOFError)):
        gzip.decompress(slices[0])
    assert gzip.decompress(slices[0] + slices[1]) == plan_bytes(secrets)


def test_the_fixture_is_a_real_terraform_plan() -> None:
    plan = orjson.loads(plan_bytes(fixture_secrets()))
    assert (plan["format_version"], plan["terraform_version"]) == ("1.2", "1.11.4")
    changes = plan["resource_changes"]
    assert len(changes) == WORKERS + 5
    assert {c["change"]["actions"][0] for c in changes} == {"create"}
    workers = [c for c in changes if c["type"] == "aws_instance"]
    assert len(workers) == WORKERS and workers[0]["change"]["after"]["instance_type"] == "m5.large"


def test_regenerating_the_secrets_gives_the_committed_fixture() -> None:
    secrets = fixture_secrets()
    meta = secrets[0]["metadata"]
    again = tofu_plan_secrets.to_secrets(
        plan_bytes(secrets),
        name="platform",
        namespace=NAMESPACE,
        plan_id=meta["annotations"]["savedPlan"],
        uid=meta["ownerReferences"][0]["uid"],
    )
    assert again == secrets


async def test_terraform_ref_estimates_the_chunked_plan() -> None:
    spec = {"plan": {"terraformRef": {"name": "platform", "workspace": "default"}}}
    outcome = await states.reconcile_once(
        NAMESPACE, "platform", spec, tofu_plans=tofu_index(fixture_secrets())
    )
    assert outcome.result == "estimated" and outcome.source == "terraformRef"
    status = outcome.status
    assert status is not None
    raw = plan_bytes(fixture_secrets())
    direct = cloudcostguard.estimate(raw)
    assert status["monthlyCost"] == cloudcostguard.estimation.model.money(direct.total_monthly_cost)
    assert status["planDigest"] == plan_sources.digest_of(raw)
    assert status["resourceCounts"]["total"] == WORKERS + 5
    workers = [r for r in direct.resources if r.resource_type == "aws_instance"]
    assert len({r.monthly_cost for r in workers}) == 1 and workers[0].monthly_cost > 0
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and f"Secret {NAMESPACE}/{BASE}" in ready["message"]


def test_the_sample_costestimate_points_at_the_fixture() -> None:
    [sample] = yaml.safe_load_all((ROOT / "config" / "samples" / "costestimate_terraform.yaml").read_text())
    spec = CostEstimateSpec.model_validate(sample["spec"])
    assert spec.plan.kind == "terraformRef"
    ref = indexes.plan_reference(sample["metadata"]["namespace"], sample["spec"])
    assert ref == indexes.PlanRef(NAMESPACE, indexes.TERRAFORM, BASE)


def test_a_small_plan_is_one_secret_with_the_whole_plans_hash() -> None:
    plan = (ROOT / "examples" / "plan.json").read_bytes()
    [secret] = tofu_plan_secrets.to_secrets(
        plan, name="web", namespace="team-a", plan_id="plan-main-1", uid="u"
    )
    meta = secret["metadata"]
    assert meta["name"] == "tfplan-default-web.json"
    assert "infra.contrib.fluxcd.io/plan-chunk" not in meta["annotations"]
    assert meta["annotations"]["infra.contrib.fluxcd.io/plan-hash"] == hashlib.sha256(plan).hexdigest()
    [chunk] = tofu_index([secret])[("team-a", "tfplan-default-web.json")]
    assert plan_sources.read_tofu_plan([chunk], "team-a", "tfplan-default-web.json", 1 << 30) == plan


def test_a_missing_or_mixed_chunk_is_transient() -> None:
    first, second = fixture_secrets()
    with pytest.raises(errors.PlanSourceError, match="incomplete"):
        plan_sources.read_tofu_plan(tofu_index([second])[(NAMESPACE, BASE)], NAMESPACE, BASE, 1 << 30)
    with pytest.raises(errors.PlanSourceError, match="chunk may still be being written"):
        plan_sources.read_tofu_plan(tofu_index([first])[(NAMESPACE, BASE)], NAMESPACE, BASE, 1 << 30)
    second["metadata"]["annotations"]["savedPlan"] = "plan-main-newer"
    with pytest.raises(errors.PlanSourceError, match="being replaced"):
        plan_sources.read_tofu_plan(tofu_index([first, second])[(NAMESPACE, BASE)], NAMESPACE, BASE, 1 << 30)


def test_long_names_get_tofu_controllers_hashed_label() -> None:
    name = "x" * 70
    label = tofu_plan_secrets.safe_label_value(name)
    assert len(label) == 63 and label == name[:46] + "-" + hashlib.sha256(name.encode()).hexdigest()[:16]
