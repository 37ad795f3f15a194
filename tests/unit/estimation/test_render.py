"""Table (Infracost breakdown style), markdown (pull-request comment) and the formatting helpers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard.cli.estimate import FORMATS as CLI_FORMATS
from cloudcostguard.estimation.model import Estimate
from cloudcostguard.render import (
    FORMATS,
    MARKDOWN_MAX_ROWS,
    dollars,
    quantity,
    render,
    render_markdown,
    render_table,
    signed_dollars,
    unit_price,
)
from tests.plans import change, plan
from tests.unit.estimation.goldens import parse_golden
from tests.unit.plan.builders import TEST_TYPE, make_catalog, registered_test_pricer, server

D = Decimal


@pytest.fixture(autouse=True)
def test_pricer() -> Iterator[None]:
    with registered_test_pricer():
        yield


def _estimate(*changes: dict[str, Any], usage: Any = None) -> Estimate:
    return cloudcostguard.estimate(plan(*changes), catalog=make_catalog(), usage=usage)


def _mixed() -> Estimate:
    return _estimate(
        change(f"{TEST_TYPE}.web[0]", ["create"], after=server(disk=[{"size_gb": 100}, {"size_gb": 1234.5}])),
        change(f"{TEST_TYPE}.old", ["delete"], before=server("large")),
        change(f"{TEST_TYPE}.up", ["update"], before=server(), after=server("large")),
        change(f"{TEST_TYPE}.same", ["no-op"], before=server(), after=server()),
        change(f"{TEST_TYPE}.far", ["create"], after=server(region="ap-south-1")),
        change("aws_vpc.main", ["create"], after={}),
        change("aws_made_up.x[0]", ["create"], after={}),
        change("aws_made_up.x[1]", ["create"], after={}),
        usage={f"{TEST_TYPE}.web[*]": {"monthly_requests": 2500000}},
    )


# --- helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [("0", "$0.00"), ("1234.565", "$1,234.57"), ("-5", "-$5.00"), ("0.004", "$0.00"), ("-0.004", "$0.00")],
)
def test_dollars(value: str, text: str) -> None:
    assert dollars(D(value)) == text


def test_signed_dollars() -> None:
    assert [signed_dollars(D(v)) for v in ("5", "-5", "0", "0.001")] == ["+$5.00", "-$5.00", "$0.00", "$0.00"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D(730), "730"),
        (D("1460.00"), "1,460"),
        (D("0.5"), "0.5"),
        (D("0.01374"), "0.0137"),
        (D("0.00001"), "<0.0001"),
    ],
)
def test_quantity(value: Decimal, text: str) -> None:
    assert quantity(value) == text
    assert quantity(None) == ""


def test_unit_price_has_at_least_two_decimals() -> None:
    assert [unit_price(D(v)) for v in ("0.2", "0.045", "1", "0.0000166667")] == [
        "0.20",
        "0.045",
        "1.00",
        "0.0000166667",
    ]


def test_every_format_renders_and_the_cli_offers_the_same_formats() -> None:
    estimate = _mixed()
    assert CLI_FORMATS == FORMATS
    for output_format in FORMATS:
        assert render(estimate, output_format).endswith("\n")
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        render(estimate, "xml")


# --- table --------------------------------------------------------------------------------------


def test_table_reads_back_as_an_infracost_breakdown(tmp_path: Path) -> None:
    """Infracost's own golden parser reads our table: same rows, nesting, usage lines and total."""
    estimate = _mixed()
    table = tmp_path / "table.txt"
    table.write_text(render_table(estimate))
    golden = parse_golden(table)
    assert golden.total == D("1015.95")
    rows = {(r.resource, r.subresource, r.name): r for r in golden.rows}
    web = f"{TEST_TYPE}.web[0]"
    assert (
        rows[(web, None, "Server (small)")].monthly_quantity,
        rows[(web, None, "Server (small)")].monthly_cost,
    ) == (
        D(730),
        D("73.00"),
    )
    assert rows[(web, None, "Requests")].monthly_cost == D("0.50")
    assert rows[(web, "root_disk", "Storage")].monthly_cost == D("2.00")
    assert rows[(web, "disk[0]", "Storage")].monthly_cost == D("10.00")
    assert (
        rows[(web, "disk[1]", "Storage")].monthly_quantity,
        rows[(web, "disk[1]", "Storage")].monthly_cost,
    ) == (
        D("1234.5"),
        D("123.45"),
    )
    up_requests = rows[(f"{TEST_TYPE}.up", None, "Requests")]
    assert (up_requests.monthly_quantity, up_requests.usage_price) == (None, D("0.20"))
    # Every priced component of every priced resource is a row (price-not-found rows are not parsed).
    expected = {
        (r.address, c.subresource, c.name)
        for r in estimate.resources
        if r.support == "priced"
        for c in r.components
        if not c.price_not_found
    }
    assert set(rows) == expected


def _tree_label(line: str) -> str:
    """The tree part of a row: branches and name, without the quantity/unit/cost columns."""
    branches, name = line.split("─ ", 1)
    return branches + "─ " + re.split(r"\s{2,}", name)[0]


def test_table_nests_subresources_under_tree_branches() -> None:
    lines = render_table(_mixed()).splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f" {TEST_TYPE}.web[0]")))
    tree = [_tree_label(line) for line in lines[start + 1 : start + 8]]
    assert tree == [
        " ├─ Server (small)",
        " ├─ Requests",
        " ├─ root_disk",
        " │  └─ Storage",
        " ├─ disk[0]",
        " │  └─ Storage",
        " └─ disk[1]",
    ]


def test_table_shows_actions_previous_total_and_change() -> None:
    table = render_table(_mixed())
    assert f" {TEST_TYPE}.old  (delete, was $732.00)" in table
    assert f" {TEST_TYPE}.up  (update, was $75.00)" in table
    assert "(no-op" not in table  # unchanged resources carry no note
    lines = {line.split("  ")[0].strip(): line.split()[-1] for line in table.splitlines() if line.strip()}
    assert lines["OVERALL TOTAL"] == "$1,015.95"
    assert lines["Previous total"] == "$882.00"
    assert lines["Monthly change"] == "+$133.95"


def test_table_reports_missing_prices_unsupported_types_and_usage() -> None:
    table = render_table(_mixed())
    assert "price not found" in table
    assert " 8 resources detected: 5 estimated, 1 free, 2 not supported" in table
    assert " Not supported (not included in the totals): 2 × aws_made_up" in table
    assert " 1 resource has components with no price found (not included in the totals)" in table
    assert " 2 resources have usage-based costs not included: give quantities with --usage FILE" in table
    assert " * priced from the usage file" in table
    assert " Prices: test test-1" in table


def test_table_without_a_past_has_no_previous_total() -> None:
    table = render_table(_estimate(change(f"{TEST_TYPE}.a", ["create"], after=server())))
    assert "Previous total" not in table and "Monthly change" not in table
    assert " OVERALL TOTAL" in table


def test_table_of_a_plan_with_nothing_priced() -> None:
    table = render_table(_estimate(change("aws_vpc.main", ["create"], after={})))
    assert " No priced resources in this plan." in table
    assert " 1 resource detected: 0 estimated, 1 free, 0 not supported" in table


# --- markdown -----------------------------------------------------------------------------------


def test_markdown_is_a_diff_sorted_by_size_of_change() -> None:
    comment = render_markdown(_mixed())
    assert "Monthly cost will **increase by $133.95** (+15.2%): $882.00 → **$1,015.95** per month." in comment
    table = [line for line in comment.splitlines() if line.startswith("| ")]
    assert table == [
        "| Resource | Action | Previous | Monthly | Change |",
        "| --- | --- | ---: | ---: | ---: |",
        f"| `{TEST_TYPE}.old` | delete | $732.00 | $0.00 | -$732.00 |",
        f"| `{TEST_TYPE}.up` | update | $75.00 | $732.00 | +$657.00 |",
        f"| `{TEST_TYPE}.web[0]` | create | $0.00 | $208.95 | +$208.95 |",
        f"| `{TEST_TYPE}.far` | create | $0.00 | $0.00 | $0.00 |",
        "| **Total** | | **$882.00** | **$1,015.95** | **+$133.95** |",
    ]
    assert "- Not supported (not included in the totals): 2 × aws_made_up" in comment
    assert "<details><summary>Cost breakdown</summary>" in comment


def test_markdown_decrease_and_no_change() -> None:
    decrease = render_markdown(_estimate(change(f"{TEST_TYPE}.a", ["delete"], before=server())))
    assert "Monthly cost will **decrease by $75.00** (-100.0%): $75.00 → **$0.00** per month." in decrease
    same = render_markdown(_estimate(change(f"{TEST_TYPE}.a", ["no-op"], before=server(), after=server())))
    assert "Monthly cost will **not change**: $75.00 → **$75.00** per month." in same
    assert "No priced resource changes." in same


def test_markdown_escapes_addresses_for_table_cells() -> None:
    comment = render_markdown(
        _estimate(
            change(
                f'module.m["a|b"].{TEST_TYPE}.x', ["create"], after=server(), module_address='module.m["a|b"]'
            ),
            change(f'{TEST_TYPE}.y["`tick`"]', ["create"], after=server()),
        )
    )
    assert f'| `module.m["a\\|b"].{TEST_TYPE}.x` |' in comment
    assert f'| `` {TEST_TYPE}.y["`tick`"] `` |' in comment


def test_markdown_of_a_large_plan_stays_within_a_github_comment() -> None:
    changes = [
        change(f"{TEST_TYPE}.n[{i}]", ["create"], after=server("large" if i == 7 else "small"))
        for i in range(400)
    ]
    comment = render_markdown(_estimate(*changes))
    assert len(comment) < 65_536
    rows = [line for line in comment.splitlines() if line.startswith(f"| `{TEST_TYPE}")]
    assert len(rows) == MARKDOWN_MAX_ROWS
    assert rows[0].startswith(f"| `{TEST_TYPE}.n[7]` | create | $0.00 | $732.00 |")
    assert f"| … {400 - MARKDOWN_MAX_ROWS} more changed resources | | | | +$26,250.00 |" in comment
    assert "The full breakdown is too long for a comment" in comment
