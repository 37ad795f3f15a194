"""The offer-file CSV reader: the real EC2 sample, display-name mapping, and CSV equal to JSON."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import orjson
import pytest

from cloudcostguard import errors
from cloudcostguard.pricing.offers.offer_csv import attribute_key
from tests.unit.pricing.offers.samples import EC2_CSV, S3_EXCERPT, gzipped, read_bytes, read_path


def _sample_rows() -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(EC2_CSV.read_text().splitlines()))
    return rows[5], rows[6:]


def test_sample_keeps_on_demand_prices_of_products_not_in_capacity_reservations() -> None:
    header, rows = _sample_rows()
    column = {name: i for i, name in enumerate(header)}
    on_demand = [r for r in rows if r[column["TermType"]] == "OnDemand"]
    reservations = [r for r in on_demand if r[column["CapacityStatus"]] != "Used"]
    assert len(on_demand) == 14 and len(reservations) == 8  # what the sample holds

    read = read_path(EC2_CSV)

    assert read.header.offer_code == "AmazonEC2"
    assert read.header.version == "20250912225308"
    assert read.header.publication_date == "2025-09-12T22:53:08Z"
    assert read.header.file_format == "csv"
    expected = {r[column["SKU"]] for r in on_demand if r[column["CapacityStatus"]] == "Used"}
    assert {p.sku for p in read.products} == expected
    assert {p.sku for p in read.prices} == expected
    assert read.stats.skipped == {"capacity reservation": 8, "price of a product not kept": 8}


def test_sample_attributes_use_the_json_keys_the_catalog_is_queried_with() -> None:
    read = read_path(EC2_CSV)

    product = read.product("2223B6PCG6QAUYY6")
    assert product.region == "ap-northeast-1"
    assert product.product_family == "Compute Instance"
    attributes = product.attributes
    assert attributes["instanceType"] == "c6i.large"
    assert attributes["operatingSystem"] == "Windows"
    assert attributes["preInstalledSw"] == "SQL Web"
    assert attributes["capacitystatus"] == "Used"
    assert attributes["tenancy"] == "Dedicated"
    assert attributes["licenseModel"] == "No License required"
    assert attributes["usagetype"] == "APN1-DedicatedUsage:c6i.large"
    assert attributes["operation"] == "RunInstances:0202"
    assert attributes["marketoption"] == "OnDemand"
    assert attributes["productFamily"] == "Compute Instance"
    assert attributes["sku"] == "2223B6PCG6QAUYY6"
    for dropped in ("location", "regionCode", "servicecode", "physicalProcessor"):
        assert dropped not in attributes
    [price] = read.prices_of("2223B6PCG6QAUYY6")
    assert (price.unit, price.usd_per_unit, price.tier_start, price.tier_end) == (
        "Hrs",
        Decimal("0.2773"),
        Decimal(0),
        None,
    )


def test_local_zone_region_codes_are_kept() -> None:
    read = read_path(EC2_CSV)

    assert read.product("2223TSA85TD5RWMS").region == "us-east-1-nyc-1"


@pytest.mark.parametrize(
    ("display", "key"),
    [
        ("Instance Type", "instanceType"),
        ("Pre Installed S/W", "preInstalledSw"),
        ("CapacityStatus", "capacitystatus"),
        ("usageType", "usagetype"),
        ("Volume API Name", "volumeApiName"),
        ("Region Code", "regionCode"),
        ("vCPU", "vcpu"),
        ("MarketOption", "marketoption"),
        ("Max IOPS/volume", "maxIopsvolume"),
        ("Instance Capacity - 10xlarge", "instanceCapacity10xlarge"),
        ("Intel AVX2 Available", "intelAvx2Available"),
        ("Database Engine", "databaseEngine"),
        ("Deployment Option", "deploymentOption"),
        ("Storage Class", "storageClass"),
        ("Group", "group"),
        ("Product Family", "productFamily"),
    ],
)
def test_display_names_map_to_json_attribute_keys(display: str, key: str) -> None:
    assert attribute_key(display) == key


def _csv_from_json(document: dict[str, Any]) -> bytes:
    """The CSV variant of a JSON offer file, as AWS lays it out (metadata, header, row per dimension)."""
    attribute_names = sorted({k for p in document["products"].values() for k in p["attributes"]})
    display = {
        "usagetype": "usageType",
        "servicecode": "serviceCode",
        "location": "Location",
        "locationType": "Location Type",
        "regionCode": "Region Code",
        "storageClass": "Storage Class",
        "volumeType": "Volume Type",
        "servicename": "serviceName",
    }
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["FormatVersion", document["formatVersion"]])
    writer.writerow(["Disclaimer", document["disclaimer"]])
    writer.writerow(["Publication Date", document["publicationDate"]])
    writer.writerow(["Version", document["version"]])
    writer.writerow(["OfferCode", document["offerCode"]])
    fixed = ["SKU", "OfferTermCode", "RateCode", "TermType", "PriceDescription", "EffectiveDate"]
    fixed += ["StartingRange", "EndingRange", "Unit", "PricePerUnit", "Currency", "Product Family"]
    writer.writerow(fixed + [display.get(name, name) for name in attribute_names])
    for sku, terms in document["terms"]["OnDemand"].items():
        product = document["products"][sku]
        for term in terms.values():
            for rate, dimension in term["priceDimensions"].items():
                writer.writerow(
                    [sku, term["offerTermCode"], rate, "OnDemand", dimension["description"], "2023-01-01"]
                    + [dimension["beginRange"], dimension["endRange"], dimension["unit"]]
                    + [dimension["pricePerUnit"]["USD"], "USD", product.get("productFamily", "")]
                    + [product["attributes"].get(name, "") for name in attribute_names]
                )
    return out.getvalue().encode()


def test_the_csv_variant_of_a_json_offer_gives_the_same_rows() -> None:
    document = orjson.loads(S3_EXCERPT.read_bytes())
    from_json = read_path(S3_EXCERPT)

    from_csv = read_bytes(_csv_from_json(document))

    assert sorted(from_csv.products) == sorted(from_json.products)
    assert sorted(from_csv.prices) == sorted(from_json.prices)


def test_gzipped_csv_is_read_the_same() -> None:
    payload = EC2_CSV.read_bytes()

    assert read_bytes(gzipped(payload)).prices == read_bytes(payload).prices


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'"FormatVersion","v1.0"\n"SKU","Unit"\n"A","Hrs"\n', "the header lacks OfferTermCode"),
        (b'"FormatVersion","v1.0"\n"Version","1"\n', "no header row starting with SKU"),
        (b'"FormatVersion","v9"\n"SKU"\n', "unsupported offer file FormatVersion"),
    ],
)
def test_csv_that_is_not_an_offer_file_is_refused(payload: bytes, message: str) -> None:
    with pytest.raises(errors.OfferFileError, match=message):
        read_bytes(payload)


def test_a_row_with_a_wrong_number_of_fields_is_an_error() -> None:
    lines = EC2_CSV.read_bytes().split(b"\n")
    lines[8] = lines[8].rsplit(b",", 3)[0]

    with pytest.raises(errors.OfferFileError, match="line 9 has"):
        read_bytes(b"\n".join(lines))


def test_unknown_service_in_csv_is_refused() -> None:
    payload = EC2_CSV.read_bytes().replace(b'"OfferCode","AmazonEC2"', b'"OfferCode","AmazonFoo"', 1)

    with pytest.raises(errors.OfferFileError, match="AmazonFoo, which is not a priced service"):
        read_bytes(payload)
