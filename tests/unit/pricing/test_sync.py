"""``cloudcostguard pricing sync`` end to end against a local HTTPS Price List, and estimate from its file.

The issue's eu-central-1 plan (tests/fixtures/terraform/eu_central_1_app, made by real Terraform)
prices every component from the synced catalog; the prices are the server's synthetic ones.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from cloudcostguard.pricing.catalog_file import checksum_path, default_catalog_path, read_catalog_file
from cloudcostguard.pricing.offers.offer_csv import attribute_key
from cloudcostguard.pricing.sync import sync_catalog
from cloudcostguard.settings import load_settings
from tests.unit.cli.invoke import run_cli
from tests.unit.pricing import price_list_https as aws
from tests.unit.pricing.price_list_https import PriceListSite, regional_path, serve_price_list, truncated

PLAN = Path(__file__).resolve().parents[2] / "fixtures" / "terraform" / "eu_central_1_app" / "plan.json"
V1, V2 = "20261101000000", "20261201000000"
RDS_V = "20261115000000"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PriceListSite]:
    with serve_price_list(tmp_path) as served:
        served.publish(V1, RDS_V)
        monkeypatch.setenv("CCG_PRICING_BASE_URL", served.base_url)
        monkeypatch.setenv("CCG_PRICING_CA_FILE", str(served.ca_file))
        monkeypatch.setenv("CCG_DOWNLOAD_RETRIES", "0")
        monkeypatch.setenv("CCG_DOWNLOAD_TIMEOUT", "10")
        for name in ("CCG_DATABASE_URL", "CCG_PRICING_REGIONS", "CCG_CATALOG_FILE"):
            monkeypatch.delenv(name, raising=False)
        yield served


def _estimate(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    code, out, err = run_cli(["estimate", str(PLAN), "--format", "json", *extra], capsys)
    assert code == 0, err
    document: dict[str, object] = orjson.loads(out)
    return document


def _expected_total() -> Decimal:
    """The plan's components at the server's prices: 730 h of each instance, 300 GB gp2 (root 100 +
    volume 200), 500 GB io1 with 4,000 IOPS, 100 GB of Multi-AZ gp2 database storage."""
    return (
        730 * aws.M5_4XLARGE_HOURLY
        + 300 * aws.GP2_GB_MONTH
        + 500 * aws.IO1_GB_MONTH
        + 4000 * aws.IO1_IOPS_MONTH
        + 730 * aws.DB_R5_LARGE_MULTI_AZ_HOURLY
        + 100 * aws.RDS_GP2_MULTI_AZ_GB_MONTH
    )


def test_sync_then_estimate_prices_the_eu_central_1_plan_from_the_synced_catalog(
    site: PriceListSite, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["pricing", "sync", "--plan", str(PLAN)], capsys)  # regions from the plan
    assert code == 0, err
    path = default_catalog_path()
    assert f"AmazonEC2 eu-central-1: version {V1}" in out and "downloaded" in out
    assert f"wrote 6 prices to {path}" in out  # the capacity-reservation row is not kept
    assert "AmazonS3 eu-central-1: AWS lists no offer file for this region" in out
    assert err == ""  # stderr is not a terminal here: no progress bar
    # Checksummed in sha256sum's format, so a copy can be checked with `sha256sum -c`.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert checksum_path(path).read_text() == f"{digest}  {path.name}\n"
    assert read_catalog_file(path).catalog.published_at == "2026-11-01T00:00:00Z"  # the oldest file's date

    document = _estimate(capsys)
    pricing = document["pricing"]
    assert isinstance(pricing, dict)
    assert pricing["source"] == "catalog-file" and pricing["publishedAt"] == "2026-11-01T00:00:00Z"
    assert document["totalMonthlyCost"] == str(_expected_total().quantize(Decimal("0.01")))
    resources = {r["name"]: r for r in document["resources"]}  # type: ignore[attr-defined]
    instance = resources["aws_instance.app"]["costComponents"][0]
    assert instance["name"] == "Instance usage (Linux/UNIX, on-demand, m5.4xlarge)"
    assert Decimal(instance["price"]) == aws.M5_4XLARGE_HOURLY
    assert document["summary"]["incomplete"] is False  # type: ignore[index]

    code, table, _ = run_cli(["estimate", str(PLAN)], capsys)
    assert " Prices: catalog-file aws-" in table and "(published 2026-11-01" in table


def test_a_second_sync_downloads_nothing_unchanged_and_leaves_the_file_alone(
    site: PriceListSite, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["pricing", "sync", "--region", "eu-central-1"], capsys)[0] == 0
    path = default_catalog_path()
    before = path.read_bytes(), path.stat().st_mtime_ns
    code, out, _ = run_cli(["pricing", "sync"], capsys)  # the regions synced before
    assert code == 0
    assert f"AmazonEC2 eu-central-1: version {V1}" in out and "unchanged" in out
    assert f"{path} is up to date (6 prices)" in out
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert site.hits[regional_path("AmazonEC2", V1)] == 1
    assert site.hits[regional_path("AmazonRDS", RDS_V)] == 1


def test_a_changed_version_is_downloaded_and_the_unchanged_service_kept(
    site: PriceListSite, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["pricing", "sync", "--region", "eu-central-1"], capsys)[0] == 0
    site.publish(V2, RDS_V, ec2_body=aws.ec2_offer(V2, hourly=Decimal("0.8222")))
    code, out, _ = run_cli(["pricing", "sync"], capsys)
    assert code == 0
    assert f"AmazonEC2 eu-central-1: version {V2}" in out
    assert f"AmazonRDS eu-central-1: version {RDS_V}" in out and "unchanged" in out
    assert site.hits[regional_path("AmazonRDS", RDS_V)] == 1
    instance = _estimate(capsys)["resources"][2]["costComponents"][0]  # type: ignore[index]
    assert instance["price"] == "0.8222"
    database = _estimate(capsys)["resources"][0]["costComponents"][0]  # type: ignore[index]
    assert Decimal(database["price"]) == aws.DB_R5_LARGE_MULTI_AZ_HOURLY


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_failed_download_leaves_the_previous_catalog_in_place(
    site: PriceListSite, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    assert run_cli(["pricing", "sync", "--region", "eu-central-1"], capsys)[0] == 0
    path = default_catalog_path()
    before = path.read_bytes()
    body = aws.ec2_offer(V2, hourly=Decimal("0.8222"))
    site.publish(V2, RDS_V, ec2_body=body)
    if damage == "truncated":

        async def cut(request: web.Request) -> web.StreamResponse:
            return await truncated(request, body)

        site.handlers[regional_path("AmazonEC2", V2)] = cut
    else:
        site.files[regional_path("AmazonEC2", V2)] = body[: len(body) // 2] + b"}}garbage"
    code, _out, err = run_cli(["pricing", "sync"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("cloudcostguard: error: ")
    assert f"the catalog file {path} is unchanged and still used" in err
    assert path.read_bytes() == before
    assert read_catalog_file(path).catalog.version  # still readable and verified
    assert not list((path.parent / (path.name + ".partial")).glob("AmazonEC2-*"))  # not kept for a restart


def test_an_interrupted_sync_does_not_download_finished_files_again(
    site: PriceListSite, capsys: pytest.CaptureFixture[str]
) -> None:
    async def refused(request: web.Request) -> web.StreamResponse:
        return web.Response(status=403, text="AccessDenied")

    site.handlers[regional_path("AmazonRDS", RDS_V)] = refused  # services sync in order: EC2 first
    code, _, err = run_cli(["pricing", "sync", "--region", "eu-central-1"], capsys)
    assert code == 2 and "HTTP 403" in err and "the bundled prices are still used" in err
    assert not default_catalog_path().exists()
    del site.handlers[regional_path("AmazonRDS", RDS_V)]
    code, out, _ = run_cli(["pricing", "sync", "--region", "eu-central-1"], capsys)
    assert code == 0, out
    assert site.hits[regional_path("AmazonEC2", V1)] == 1  # reused from the first run's download
    assert "wrote 6 prices" in out


def test_offline_is_one_clear_line_and_the_bundled_prices_stay(
    site: PriceListSite, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CCG_PRICING_BASE_URL", f"https://127.0.0.1:{port}")
    code, out, err = run_cli(["pricing", "sync", "--region", "eu-central-1"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(
        f"cloudcostguard: error: cannot reach the AWS Price List at https://127.0.0.1:{port}"
    )
    assert err.rstrip().endswith("the bundled prices are still used") and err.count("\n") == 1
    assert _estimate(capsys)["pricing"]["source"] == "bundled"  # type: ignore[index]


def test_sync_needs_a_region(site: PriceListSite, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["pricing", "sync"], capsys)
    assert code == 2 and "no region to sync: pass --region REGION" in err


def test_a_damaged_catalog_file_is_refused_with_the_fix(
    site: PriceListSite, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["pricing", "sync", "--region", "eu-central-1"], capsys)[0] == 0
    path = default_catalog_path()
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    path.write_bytes(bytes(payload))
    code, _, err = run_cli(["estimate", str(PLAN)], capsys)
    assert code == 2
    assert "does not match its checksum file aws-prices.json.gz.sha256" in err
    assert "run `cloudcostguard pricing sync` again" in err


def test_catalog_flag_and_variable_name_the_file(
    site: PriceListSite, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mounted = tmp_path / "mounted" / "prices.json.gz"
    assert run_cli(["pricing", "sync", "--region", "eu-central-1", "--catalog", str(mounted)], capsys)[0] == 0
    assert not default_catalog_path().exists()
    assert _estimate(capsys)["pricing"]["source"] == "bundled"  # type: ignore[index]
    assert _estimate(capsys, "--catalog", str(mounted))["pricing"]["source"] == "catalog-file"  # type: ignore[index]
    monkeypatch.setenv("CCG_CATALOG_FILE", str(mounted))
    assert _estimate(capsys)["pricing"]["source"] == "catalog-file"  # type: ignore[index]
    monkeypatch.setenv("CCG_CATALOG_FILE", str(tmp_path / "absent.json.gz"))
    code, _, err = run_cli(["estimate", str(PLAN)], capsys)
    assert code == 2 and "no catalog file at" in err and "run `cloudcostguard pricing sync`" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_on_a_terminal_only(site: PriceListSite, tmp_path: Path) -> None:
    settings = load_settings()
    terminal, pipe = _Terminal(), io.StringIO()
    asyncio.run(sync_catalog(settings, ["eu-central-1"], tmp_path / "a.json.gz", progress_stream=terminal))
    asyncio.run(sync_catalog(settings, ["eu-central-1"], tmp_path / "b.json.gz", progress_stream=pipe))
    drawn = terminal.getvalue()
    assert "\rAmazonEC2 eu-central-1" in drawn and drawn.rstrip().endswith("done")
    assert pipe.getvalue() == ""


def test_the_csv_variant_syncs_the_same_prices_as_json(
    site: PriceListSite, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for service, version in (("AmazonEC2", V1), ("AmazonRDS", RDS_V)):
        json_path = regional_path(service, version)
        site.files[json_path.removesuffix(".json") + ".csv"] = aws.as_csv(site.files[json_path])
    assert all(attribute_key(name) == key for key, name in aws.CSV_COLUMNS.items())
    from_json, from_csv = tmp_path / "json.gz", tmp_path / "csv.gz"
    assert (
        run_cli(["pricing", "sync", "--region", "eu-central-1", "--catalog", str(from_json)], capsys)[0] == 0
    )
    code, out, err = run_cli(
        ["pricing", "sync", "--region", "eu-central-1", "--format", "csv", "--catalog", str(from_csv)], capsys
    )
    assert code == 0, err
    assert site.hits[regional_path("AmazonEC2", V1).removesuffix(".json") + ".csv"] == 1
    assert "wrote 6 prices" in out

    def prices(path: Path) -> list[tuple[object, ...]]:
        return sorted(
            (r.service, r.region, tuple(sorted(r.attributes.items())), r.unit, r.unit_price)
            for r in read_catalog_file(path).catalog.records()
        )

    assert prices(from_csv) == prices(from_json)


def test_a_host_that_does_not_resolve_fails_at_once_without_retries(
    site: PriceListSite, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCG_PRICING_BASE_URL", "https://pricing.example.invalid")  # RFC 6761: never resolves
    monkeypatch.setenv("CCG_DOWNLOAD_RETRIES", "3")
    code, _, err = run_cli(["pricing", "sync", "--region", "eu-central-1"], capsys)
    assert code == 2 and "retrying" not in err and err.count("\n") == 1
    assert err.startswith(
        "cloudcostguard: error: cannot reach the AWS Price List at https://pricing.example.invalid"
    )
    assert "the bundled prices are still used" in err
