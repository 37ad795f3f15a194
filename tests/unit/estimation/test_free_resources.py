"""The known-free list covers Infracost's: every type Infracost counts as free is free here or priced.

``tests/fixtures/infracost/free_resources.txt`` is Infracost's ``FreeResources`` list as recorded (its
header names the repository, commit and file). A type we price must not be free as well: a pricer
registered for a type of that list wins, and the type leaves ``FREE_RESOURCE_TYPES``.
"""

from __future__ import annotations

from pathlib import Path

from cloudcostguard.estimation.registry import FREE_RESOURCE_TYPES, PRICERS, load_all_pricers

LIST_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "infracost" / "free_resources.txt"


def _infracost_free_types() -> list[str]:
    lines = LIST_FILE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_recorded_list_is_infracosts_whole_aws_list() -> None:
    types = _infracost_free_types()
    assert len(types) == len(set(types)), "the recorded list repeats a type"
    # Infracost's list at the recorded commit: 422 AWS types plus Terraform's utility providers.
    assert sum(t.startswith("aws_") for t in types) == 422
    assert {"aws_vpc_endpoint_route_table_association", "aws_kms_alias", "null_resource"} <= set(types)


def test_every_type_infracost_counts_free_is_free_or_priced_here() -> None:
    load_all_pricers()
    missing = [t for t in _infracost_free_types() if t not in FREE_RESOURCE_TYPES and t not in PRICERS]
    assert not missing, f"free in Infracost, unsupported here: {missing}"


def test_no_type_is_both_free_and_priced() -> None:
    load_all_pricers()
    assert not FREE_RESOURCE_TYPES & set(PRICERS)
