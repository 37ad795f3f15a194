"""Every Infracost golden row of a type we price is reproduced to the cent.

Each case is a folder under ``tests/fixtures/infracost/``: ``golden.txt`` and ``usage.yml`` are
Infracost's own files (see that folder's PROVENANCE.md); ``plan.json`` is our Terraform plan written for
the same test resources; ``uncovered.yml`` lists the rows we knowingly do not reproduce, each with a
reason. An uncovered row must still show up as "price not found" (or its resource as unsupported), so
the list cannot hide a regression, and every listed row must exist in the golden. A row listed with
``expect: absent`` is one we must not produce at all (the case's NOTES.md says why, e.g. a value
Infracost reads from another resource that the plan does not carry).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP
from pathlib import Path

import pytest
import yaml

import cloudcostguard
from cloudcostguard.estimation.model import Estimate
from cloudcostguard.estimation.registry import PRICERS
from tests.unit.estimation.goldens import CENT, find_component, parse_golden, row_mismatch

CASES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "infracost"
CASES = sorted(path.name for path in CASES_DIR.iterdir() if (path / "plan.json").exists())
# Support calendars (RDS Extended Support years, EKS extended support) depend on the pricing date. The
# goldens were regenerated on 2026-08-21 but Infracost prices RDS Extended Support at its year-1 rate and
# EKS versions by their own calendar; 2025-09-01 lies where both agree with every golden row.
GOLDEN_AS_OF = date(2025, 9, 1)


def _estimate(case: Path) -> Estimate:
    usage_file = case / "usage.yml"
    usage = usage_file.read_text() if usage_file.exists() else None
    return cloudcostguard.estimate((case / "plan.json").read_bytes(), usage=usage, as_of=GOLDEN_AS_OF)


def _uncovered(case: Path) -> dict[tuple[str, str | None, str], dict[str, str]]:
    listed = case / "uncovered.yml"
    if not listed.exists():
        return {}
    entries = yaml.safe_load(listed.read_text()) or []
    for entry in entries:
        assert entry.get("reason"), f"{case.name}: uncovered row without a reason: {entry}"
        assert entry.get("expect", "priceNotFound") in ("priceNotFound", "absent"), entry
    return {(e["resource"], e.get("subresource"), e["component"]): e for e in entries}


@pytest.mark.parametrize("case_name", CASES)
def test_golden_rows_are_reproduced_to_the_cent(case_name: str) -> None:
    case = CASES_DIR / case_name
    golden = parse_golden(case / "golden.txt")
    estimate = _estimate(case)
    uncovered = _uncovered(case)
    golden_keys = {(row.resource, row.subresource, row.name) for row in golden.rows}
    assert not set(uncovered) - golden_keys, "uncovered.yml names rows that are not in the golden"
    by_address = {resource.address: resource for resource in estimate.resources}
    failures = []
    for row in golden.rows:
        resource_type = row.resource.split(".")[-2] if ".module." not in row.resource else row.resource
        resource = by_address.get(row.resource)
        key = (row.resource, row.subresource, row.name)
        if key in uncovered:
            component = find_component(estimate, row)
            if uncovered[key].get("expect") == "absent":
                if component is not None:
                    failures.append(f"{key} is listed absent but we produce it: {component}")
                continue
            out_of_scope = resource is not None and resource.support == "unsupported"
            if not out_of_scope and (component is None or not component.price_not_found):
                failures.append(f"{key} is listed uncovered but we priced it: {component}")
            continue
        if resource is None:
            failures.append(f"{row.resource}: not in our estimate (type {resource_type})")
            continue
        component = find_component(estimate, row)
        if component is None:
            failures.append(f"{key}: no such component; we have {[c.name for c in resource.components]}")
            continue
        mismatch = row_mismatch(row, component)
        if mismatch is not None:
            failures.append(mismatch)
    assert not failures, "\n".join(failures)
    if not uncovered:
        assert estimate.total_monthly_cost.quantize(CENT, ROUND_HALF_UP) == golden.total


def test_every_case_prices_only_registered_types_or_lists_them() -> None:
    """A golden resource of a type without a pricer must be listed as uncovered, never silently skipped."""
    for case_name in CASES:
        case = CASES_DIR / case_name
        uncovered = _uncovered(case)
        for row in parse_golden(case / "golden.txt").rows:
            resource_type = next(p for p in row.resource.split(".") if p.startswith("aws_"))
            if resource_type not in PRICERS:
                assert (row.resource, row.subresource, row.name) in uncovered, row
