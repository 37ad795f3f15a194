"""Golden cases priced from PostgreSQL loaded with synthetic offer files: the production lookups.

The bundled snapshot lacks most prices of the newer types, and no real offer-file excerpt of their
services is in the samples. A case's ``synthetic_offers.yml`` names offer files in the official AWS
Price List format (``files``, relative to the case folder) whose products carry the attributes AWS's
offer files have (productFamily, region-prefixed usagetype, …) but invented, distinctive prices (see
``tests/fixtures/infracost/PROVENANCE.md``). ``priced`` lists golden rows and the unit price each must
be found at. Loaded into a fresh store, every listed row must come out at that price, and its monthly
cost must be the golden's quantity times that price: the lookup found the right product and the
quantity and unit scale are Infracost's.

Our own cases (``tests/fixtures/terraform/<case>/``, types Infracost has no test of) have no golden: their
rows state the expected monthly ``quantity`` themselves.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

import cloudcostguard
from cloudcostguard.pricing.store.one_shot_catalog import load_catalog_once
from tests.integration.pricing.conftest import make_settings
from tests.integration.pricing.test_golden_offers import GOLDEN_AS_OF, _cli
from tests.unit.estimation.goldens import CENT, GoldenRow, find_component, parse_golden

pytestmark = pytest.mark.postgres

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CASE_FOLDERS = {
    path.name: path
    for folder in (FIXTURES / "infracost", FIXTURES / "terraform")
    for path in folder.iterdir()
    if (path / "synthetic_offers.yml").exists()
}
CASES = sorted(CASE_FOLDERS)


def _quantity_step(quantity: Decimal) -> Decimal:
    # Goldens print quantities cut to the digits shown; the cost may differ by that much times the price.
    exponent = quantity.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return Decimal(1).scaleb(min(exponent, 0))


def test_some_case_is_proven_against_synthetic_offer_files() -> None:
    assert CASES


@pytest.mark.parametrize("case_name", CASES)
def test_listed_rows_are_priced_from_synthetic_offer_files_in_postgresql(
    case_name: str, store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CCG_DATABASE_URL", raising=False)
    case = CASE_FOLDERS[case_name]
    listing: dict[str, Any] = yaml.safe_load((case / "synthetic_offers.yml").read_text())
    files = [str((case / name).resolve()) for name in listing["files"]]
    _cli(["pricing", "load", *files, "--database-url", store_url], capsys)
    catalog = load_catalog_once(store_url, make_settings())
    usage = (case / "usage.yml").read_text() if (case / "usage.yml").exists() else None
    estimate = cloudcostguard.estimate(
        (case / "plan.json").read_bytes(), usage=usage, catalog=catalog, as_of=GOLDEN_AS_OF
    )
    assert estimate.pricing_source == "postgresql"

    has_golden = (case / "golden.txt").exists()
    golden = parse_golden(case / "golden.txt").rows if has_golden else []
    rows = {(r.resource, r.subresource, r.name): r for r in golden}
    failures = []
    for entry in listing["priced"]:
        key = (entry["resource"], entry.get("subresource"), entry["component"])
        row = rows.get(key) if has_golden else _stated_row(entry)
        assert row is not None, f"synthetic_offers.yml names a row that is not in the golden: {key}"
        component = find_component(estimate, row)
        price = Decimal(str(entry["price"]))
        if component is None or component.price_not_found:
            failures.append(f"{key}: not priced from the offer files: {component}")
            continue
        if component.price != price:
            failures.append(f"{key}: price {component.price}, offer file {price}")
            continue
        if row.monthly_quantity is None:
            if component.monthly_cost is not None:
                failures.append(f"{key}: golden depends on usage; we have {component}")
            continue
        expected = row.monthly_quantity * price
        tolerance = _quantity_step(row.monthly_quantity) * price + CENT / 2
        if component.monthly_cost is None or abs(component.monthly_cost - expected) > tolerance:
            ours = component.monthly_cost
            failures.append(f"{key}: {row.monthly_quantity} x {price} = {expected}, ours {ours}")
    assert not failures, "\n".join(failures)


def _stated_row(entry: dict[str, Any]) -> GoldenRow:
    """A row of our own case: the quantity the listing states (no golden to take it from)."""
    quantity = entry.get("quantity")
    return GoldenRow(
        entry["resource"],
        entry.get("subresource"),
        entry["component"],
        "",
        None if quantity is None else Decimal(str(quantity)),
        None,
        None,
    )
