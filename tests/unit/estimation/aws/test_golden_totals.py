"""The compute and network golden cases add up: our total is Infracost's minus the rows we list uncovered.

The shared harness checks every golden row and, for cases without uncovered rows, the total. For the
cases with uncovered rows this adds the total check, so nothing outside the golden's rows (an extra
line, a default disk) can slip into the sum unnoticed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import yaml

import cloudcostguard
from tests.unit.estimation.goldens import parse_golden

CASES = Path(__file__).resolve().parents[3] / "fixtures" / "infracost"
CENT = Decimal("0.01")

# Infracost skips instance1_hostTenancy (host tenancy without a host id); we price its 8 GB gp2 root
# volume, since the instance's disks are billed whatever runs it.
EXTRA_BEYOND_GOLDEN = {"instance_test": Decimal("0.80")}


@pytest.mark.parametrize("case", ["ebs_volume_test", "instance_test"])
def test_total_is_the_golden_total_less_the_uncovered_rows(case: str) -> None:
    folder = CASES / case
    golden = parse_golden(folder / "golden.txt")
    listed = yaml.safe_load((folder / "uncovered.yml").read_text())
    uncovered = {(entry["resource"], entry.get("subresource"), entry["component"]) for entry in listed}
    uncovered_cost = sum(
        (
            row.monthly_cost or Decimal(0)
            for row in golden.rows
            if (row.resource, row.subresource, row.name) in uncovered
        ),
        Decimal(0),
    )
    usage = folder / "usage.yml"

    estimate = cloudcostguard.estimate(
        (folder / "plan.json").read_bytes(), usage=usage.read_text() if usage.exists() else None
    )

    expected = golden.total - uncovered_cost + EXTRA_BEYOND_GOLDEN.get(case, Decimal(0))
    # Golden rows are rounded one by one: allow half a cent per uncovered row on top of the total's own.
    tolerance = CENT / 2 * (len(uncovered) + 1)
    assert abs(estimate.total_monthly_cost.quantize(CENT, ROUND_HALF_UP) - expected) <= tolerance
