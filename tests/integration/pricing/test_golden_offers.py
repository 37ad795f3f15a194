"""Golden rows priced from PostgreSQL loaded with AWS offer files: the production pricing path.

A golden case (``tests/fixtures/infracost/<case>/``) with an ``offers.yml`` names offer-file excerpts
in the official Price List format (``files``, paths relative to the case folder) and the golden rows
they must price (``priced``: resource, component, subresource). The bundled snapshot is imported
first, then the excerpts are loaded as the next pricing version (the services they hold replace the
snapshot's); every listed row must then be reproduced to the cent, from the store.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

import cloudcostguard
from cloudcostguard.cli import main
from cloudcostguard.pricing.store.one_shot_catalog import load_catalog_once
from tests.integration.pricing.conftest import make_settings
from tests.unit.estimation.goldens import find_component, parse_golden, row_mismatch

pytestmark = pytest.mark.postgres

CASES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "infracost"
CASES = sorted(path.name for path in CASES_DIR.iterdir() if (path / "offers.yml").exists())
GOLDEN_AS_OF = date(2025, 9, 1)  # as the unit golden test (support calendars)


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    _, err = capsys.readouterr()
    assert caught.value.code == 0, err


def test_some_case_is_proven_against_offer_files() -> None:
    assert CASES


@pytest.mark.parametrize("case_name", CASES)
def test_listed_golden_rows_are_priced_from_offer_files_in_postgresql(
    case_name: str, store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CCG_DATABASE_URL", raising=False)
    case = CASES_DIR / case_name
    listing: dict[str, Any] = yaml.safe_load((case / "offers.yml").read_text())
    files = [str((case / name).resolve()) for name in listing["files"]]
    _cli(["pricing", "import-snapshot", "--database-url", store_url], capsys)
    _cli(["pricing", "load", *files, "--database-url", store_url], capsys)
    catalog = load_catalog_once(store_url, make_settings())
    usage = (case / "usage.yml").read_text() if (case / "usage.yml").exists() else None
    estimate = cloudcostguard.estimate(
        (case / "plan.json").read_bytes(), usage=usage, catalog=catalog, as_of=GOLDEN_AS_OF
    )
    assert estimate.pricing_source == "postgresql"

    rows = {(r.resource, r.subresource, r.name): r for r in parse_golden(case / "golden.txt").rows}
    failures = []
    for entry in listing["priced"]:
        key = (entry["resource"], entry.get("subresource"), entry["component"])
        row = rows.get(key)
        assert row is not None, f"offers.yml names a row that is not in the golden: {key}"
        component = find_component(estimate, row)
        if component is None or component.price_not_found:
            failures.append(f"{key}: not priced from the offer files: {component}")
            continue
        mismatch = row_mismatch(row, component)
        if mismatch is not None:
            failures.append(mismatch)
    assert not failures, "\n".join(failures)
