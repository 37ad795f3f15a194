"""``cloudcostguard pricing coverage``: what the active catalog prices; why a plan's prices are missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripts.build_price_snapshot import KARPENTER_ATTRIBUTES as LINUX

from cloudcostguard.estimation.missing_prices import explain
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from tests.unit.cli.invoke import run_cli

PLAN = Path(__file__).resolve().parents[2] / "fixtures" / "terraform" / "eu_central_1_app" / "plan.json"


def test_coverage_lists_services_regions_and_families_with_counts_and_dates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(["pricing", "coverage"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"catalog: bundled {load_bundled_catalog().version}"
    assert lines[1].startswith("published: 2026-08-21")
    ec2 = next(
        line
        for line in lines
        if line.startswith("AmazonEC2") and "us-east-1" in line and "Compute Instance" in line
    )
    products = sum(
        1
        for r in load_bundled_catalog().records()
        if r.service == "AmazonEC2"
        and r.region == "us-east-1"
        and r.attributes.get("productFamily") == "Compute Instance"
    )
    # The Karpenter table (2026-07-20) and the Infracost goldens (2026-08-21) both price these.
    assert ec2.split()[-5:] == [str(products), str(products), "2026-07-20", "…", "2026-08-21"]
    gov = next(line for line in lines if line.startswith("AmazonEC2") and "us-gov-west-1" in line)
    assert gov.split()[-1] == "2026-07-20"
    assert lines[-1].endswith("regions")


def test_coverage_of_a_plan_names_what_is_missing_and_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["pricing", "coverage", "--plan", str(PLAN)], capsys)
    assert code == 0
    assert "7 components of 3 resources would have no price:" in out
    assert "  not found: Instance usage (Linux/UNIX, on-demand, m5.4xlarge)" in out
    assert "the catalog has no AmazonEC2 prices for eu-central-1 (it has eu-west-1, us-east-1," in out
    assert "fix: `cloudcostguard pricing sync --region eu-central-1`" in out


def test_a_missing_attribute_value_is_named_with_what_the_region_has() -> None:
    reason = explain(load_bundled_catalog(), "AmazonEC2", "us-east-1", {**LINUX, "instanceType": "m5.mega"})
    assert reason.startswith("no AmazonEC2 us-east-1 product has instanceType=m5.mega (")
    reason = explain(load_bundled_catalog(), "AmazonEC2", "us-east-1", {**LINUX, "tenancy": "Dedicated"})
    assert "has tenancy=Dedicated" in reason and "tenancy there: Shared" in reason


def test_a_plan_fully_priced_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(
        '{"format_version": "1.2", "resource_changes": [{"address": "aws_instance.a", "mode": "managed",'
        ' "type": "aws_instance", "name": "a", "change": {"actions": ["create"], "before": null,'
        ' "after": {"instance_type": "m7i.large"}, "after_unknown": {}}}]}'
    )
    code, out, _ = run_cli(["pricing", "coverage", "--plan", str(plan)], capsys)
    assert code == 0 and f"every component of {plan} has a price in this catalog" in out
