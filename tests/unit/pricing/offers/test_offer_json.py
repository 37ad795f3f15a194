"""The streaming offer-file JSON reader: real excerpts, any chunking, corrupt and wrong files."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudcostguard import errors
from cloudcostguard.pricing.offers.model import DROPPED_ATTRIBUTES, PriceRow, ProductRow, Selection
from tests.unit.pricing.offers.samples import (
    DEEP_ARCHIVE,
    EC2_2017,
    RDS_2018,
    S3_EXCERPT,
    SERVICE_INDEX,
    gzipped,
    read_bytes,
    read_path,
)


def test_s3_excerpt_yields_its_products_and_the_three_storage_tiers() -> None:
    read = read_path(S3_EXCERPT)

    assert read.header.offer_code == "AmazonS3"
    assert read.header.version == "20230123170643"
    assert read.header.publication_date == "2023-01-23T17:06:43Z"
    assert [p.sku for p in read.products] == ["WP9ANXZGBYYSGJEA", "VD5B635CNWMMUVCM"]
    standard = read.product("WP9ANXZGBYYSGJEA")
    assert (standard.service, standard.region, standard.product_family) == (
        "AmazonS3",
        "us-east-1",
        "Storage",
    )
    tiers = [(p.tier_start, p.tier_end, p.usd_per_unit, p.unit) for p in read.prices_of("WP9ANXZGBYYSGJEA")]
    assert tiers == [
        (Decimal(0), Decimal(51200), Decimal("0.023"), "GB-Mo"),
        (Decimal(51200), Decimal(512000), Decimal("0.022"), "GB-Mo"),
        (Decimal(512000), None, Decimal("0.021"), "GB-Mo"),
    ]
    assert read.prices_of("WP9ANXZGBYYSGJEA")[0].rate_code == "WP9ANXZGBYYSGJEA.JRTCKXETXF.PGHJ3S3EYE"


def test_attributes_keep_offer_names_add_family_and_sku_and_drop_descriptions() -> None:
    document = orjson.loads(S3_EXCERPT.read_bytes())
    original = document["products"]["WP9ANXZGBYYSGJEA"]["attributes"]

    attributes = read_path(S3_EXCERPT).product("WP9ANXZGBYYSGJEA").attributes

    expected = {k: v for k, v in original.items() if k not in DROPPED_ATTRIBUTES and v}
    expected |= {"productFamily": "Storage", "sku": "WP9ANXZGBYYSGJEA"}
    assert attributes == expected
    assert original["operation"] == ""  # empty values are not kept (CSV cannot carry them)
    assert "operation" not in attributes
    assert "regionCode" not in attributes
    assert "location" not in attributes
    assert attributes["usagetype"] == "TimedStorage-ByteHrs"


def test_products_without_product_family_are_kept_without_it() -> None:
    read = read_path(DEEP_ARCHIVE)

    assert {p.sku for p in read.products} == {"SKAKWE8C8SPXCVHA", "EQ2HJHQR2HBHM5U8"}
    assert all(p.product_family is None and "productFamily" not in p.attributes for p in read.products)
    assert read.prices_of("EQ2HJHQR2HBHM5U8")[0].usd_per_unit == Decimal("0.000005")


def test_regions_come_from_location_names_in_files_without_region_codes() -> None:
    read = read_path(EC2_2017)

    regions = {p.attributes.get("usagetype"): p.region for p in read.products}
    assert regions["EU-ElasticIP:IdleAddress"] == "eu-west-1"  # "EU (Ireland)"
    assert regions["APS3-EBS:VolumeUsage.gp2"] == "ap-south-1"  # "Asia Pacific (Mumbai)"
    assert regions["CAN1-LoadBalancerUsage"] == "ca-central-1"
    assert regions["BoxUsage:c4.large"] == "us-east-1"
    # A data-transfer product has no location: it is filed under where the data leaves (Ohio).
    assert regions["USE2-SAE1-AWS-Out-Bytes"] == "us-east-2"


def test_elastic_ip_first_hour_free_tier_is_read_as_two_tiers() -> None:
    read = read_path(EC2_2017)

    eip = next(p for p in read.products if p.product_family == "IP Address")
    tiers = [(p.tier_start, p.tier_end, p.usd_per_unit) for p in read.prices_of(eip.sku)]
    assert tiers == [(Decimal(0), Decimal(1), Decimal(0)), (Decimal(1), None, Decimal("0.005"))]


def test_reserved_terms_are_skipped_and_only_on_demand_prices_kept() -> None:
    document = orjson.loads(EC2_2017.read_bytes())
    on_demand_dimensions = sum(
        len(term["priceDimensions"])
        for terms in document["terms"]["OnDemand"].values()
        for term in terms.values()
    )
    assert document["terms"]["Reserved"]  # the file has Reserved terms to skip

    read = read_path(EC2_2017)

    assert len(read.prices) == on_demand_dimensions
    assert all(".JRTCKXETXF." in p.rate_code for p in read.prices)


def test_region_selection_drops_other_regions_products_and_their_prices() -> None:
    read = read_path(EC2_2017, Selection.from_lists(regions=["eu-west-1"]))

    assert {p.region for p in read.products} == {"eu-west-1"}
    kept = {p.sku for p in read.products}
    assert {p.sku for p in read.prices} == kept
    assert read.stats.skipped["region not selected"] == read.stats.products_seen - len(kept)


def test_capacity_reservation_products_are_not_kept() -> None:
    document = orjson.loads(S3_EXCERPT.read_bytes())
    document["products"]["WP9ANXZGBYYSGJEA"]["attributes"]["capacitystatus"] = "AllocatedCapacityReservation"

    read = read_bytes(orjson.dumps(document))

    assert [p.sku for p in read.products] == ["VD5B635CNWMMUVCM"]
    assert {p.sku for p in read.prices} == {"VD5B635CNWMMUVCM"}
    assert read.stats.skipped == {"capacity reservation": 1, "price of a product not kept": 3}


def test_gzip_gives_the_same_rows_and_the_same_content_digest() -> None:
    payload = S3_EXCERPT.read_bytes()

    plain, compressed = read_bytes(payload), read_bytes(gzipped(payload))

    assert compressed.products == plain.products
    assert compressed.prices == plain.prices
    assert compressed.digest == plain.digest
    import hashlib

    assert plain.digest == hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 500, 4096])
def test_any_chunking_gives_the_same_rows(chunk_size: int) -> None:
    whole = read_path(EC2_2017)

    chunked = read_path(EC2_2017, chunk_size=chunk_size)

    assert chunked.products == whole.products
    assert chunked.prices == whole.prices


def test_unknown_service_is_refused_before_reading_products() -> None:
    with pytest.raises(errors.OfferFileError, match="AmazonS3, which is not a priced service") as caught:
        read_path(S3_EXCERPT, Selection.from_lists(services=["AmazonEC2"]))
    assert caught.value.reason == "OfferServiceUnknown"


def test_a_configured_service_outside_the_priced_list_is_accepted() -> None:
    document = orjson.loads(S3_EXCERPT.read_bytes())
    document["offerCode"] = "AmazonSNS"

    read = read_bytes(orjson.dumps(document), Selection.from_lists(services=["AmazonSNS"]))

    assert {p.service for p in read.products} == {"AmazonSNS"}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "the file is empty"),
        (b"   \n", "the file is empty"),
        (b"[1, 2]", "a JSON array is not an AWS offer file"),
        (b"hello", "not an AWS offer file"),
        (SERVICE_INDEX.read_bytes(), r"not an AWS offer file \(the price list's service index\)"),
        (b'{"formatVersion": "v1.0", "regions": {}}', r"\(a region index\)"),
        (b'{"offerCode": "AmazonEC2", "products": [{"sku": "A"}]}', "products is not an object"),
        (b'{"formatVersion": "v2.0", "products": {}}', "unsupported offer file formatVersion"),
        (b'{"offerCode": "AmazonS3", "products": {}} trailing', "unexpected data after the end"),
    ],
)
def test_wrong_formats_are_named(payload: bytes, message: str) -> None:
    with pytest.raises(errors.OfferFileError, match=message):
        read_bytes(payload)


@pytest.mark.parametrize("chunk_size", [16, 4 * 1024 * 1024])
def test_a_truncated_file_is_an_error(chunk_size: int) -> None:
    payload = EC2_2017.read_bytes()

    for cut in (len(payload) // 3, len(payload) // 2, len(payload) - 3):
        with pytest.raises(errors.OfferFileError, match=r"ends|invalid JSON|expected"):
            read_bytes(payload[:cut], chunk_size=chunk_size)


def test_corrupt_content_is_reported_with_its_byte_offset() -> None:
    payload = S3_EXCERPT.read_bytes()
    broken = payload.replace(b'"beginRange": "51200"', b'"beginRange": 51200 51200', 1)

    with pytest.raises(errors.OfferFileError, match=r"at byte \d+") as caught:
        read_bytes(broken, chunk_size=256)
    assert "test-offer" in str(caught.value)


def test_a_price_that_is_not_a_number_is_an_error() -> None:
    payload = S3_EXCERPT.read_bytes().replace(b'"0.0220000000"', b'"0.02x"', 1)

    with pytest.raises(errors.OfferFileError, match=r"price '0\.02x' is not a number"):
        read_bytes(payload)


def test_corrupt_gzip_is_an_error() -> None:
    compressed = gzipped(S3_EXCERPT.read_bytes())

    with pytest.raises(errors.OfferFileError, match="gzip data is corrupt or truncated"):
        read_bytes(compressed[: len(compressed) // 2])


def test_terms_before_products_keep_every_price_and_say_so() -> None:
    document = orjson.loads(RDS_2018.read_bytes())
    reordered = {"terms": document["terms"], "offerCode": "AmazonRDS", "products": document["products"]}

    read = read_bytes(orjson.dumps(reordered))

    assert read.prices_before_products
    assert {p.sku for p in read.prices} == set(document["terms"]["OnDemand"])
    assert {p.sku for p in read.products} == set(document["products"])


# --- property: the streaming reader equals a whole-document parse ----------------------------------

_SKU = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=6, max_size=16)
# Values that look like the reader's item boundaries or JSON structure, and non-ASCII text.
_TRICKY = st.sampled_from(
    ['}, "ABCDEF123": {', '"', "\\", "{", "}", '}}, "X9": {"a": 1', "São Paulo", "日本", "\u2028", "", "Inf"]
)
_VALUE = st.one_of(st.text(max_size=12), _TRICKY)
_ATTRIBUTE_NAMES = st.sampled_from(
    ["instanceType", "usagetype", "operation", "group", "storageClass", "note"]
)


@st.composite
def offer_documents(draw: st.DrawFn) -> dict[str, Any]:
    skus = draw(st.lists(_SKU, min_size=0, max_size=12, unique=True))
    products: dict[str, Any] = {}
    on_demand: dict[str, Any] = {}
    reserved: dict[str, Any] = {}
    for sku in skus:
        attributes = draw(st.dictionaries(_ATTRIBUTE_NAMES, _VALUE, max_size=4))
        attributes["regionCode"] = draw(st.sampled_from(["us-east-1", "eu-west-1"]))
        product: dict[str, Any] = {"sku": sku, "attributes": attributes}
        if draw(st.booleans()):
            product = {"attributes": attributes, "productFamily": draw(_VALUE), "sku": sku}
        products[sku] = product
        dimensions = {}
        for number in range(draw(st.integers(0, 3))):
            rate = f"{sku}.JRTCKXETXF.{number}"
            dimensions[rate] = {
                "rateCode": rate,
                "description": draw(_VALUE),
                "beginRange": str(number * 10),
                "endRange": "Inf" if number == 2 else str(number * 10 + 10),
                "unit": "Hrs",
                "pricePerUnit": {"USD": str(draw(st.decimals(0, 100, places=4)))},
                "appliesTo": [],
            }
        on_demand[sku] = {f"{sku}.JRTCKXETXF": {"priceDimensions": dimensions, "termAttributes": {}}}
        if draw(st.booleans()):
            reserved[sku] = {
                f"{sku}.4NA7Y494T4": {"priceDimensions": {}, "termAttributes": {"x": draw(_VALUE)}}
            }
    for orphan in draw(st.lists(_SKU, max_size=2)):  # terms of products that are not in the file
        if orphan not in products:
            on_demand[orphan] = {f"{orphan}.JRTCKXETXF": {"priceDimensions": {}, "termAttributes": {}}}
    terms = {"OnDemand": on_demand, "Reserved": reserved}
    if draw(st.booleans()):
        terms = {"Reserved": reserved, "OnDemand": on_demand}
    head = {"formatVersion": "v1.0", "disclaimer": draw(_VALUE), "offerCode": "AmazonEC2", "version": "1"}
    if draw(st.booleans()):
        return {**head, "products": products, "terms": terms}
    return {**head, "terms": terms, "products": products, "publicationDate": "2026-01-01T00:00:00Z"}


def _expected(document: dict[str, Any]) -> tuple[list[ProductRow], list[PriceRow]]:
    products = []
    for sku, product in document["products"].items():
        attributes = {
            k: v for k, v in product["attributes"].items() if k not in DROPPED_ATTRIBUTES and v != ""
        }
        family = product.get("productFamily")
        if family:
            attributes["productFamily"] = family
        attributes["sku"] = sku
        products.append(
            ProductRow(sku, "AmazonEC2", product["attributes"]["regionCode"], family or None, attributes)
        )
    products_first = list(document).index("products") < list(document).index("terms")
    prices = []
    for sku, terms in document["terms"]["OnDemand"].items():
        if products_first and sku not in document["products"]:
            continue
        for term in terms.values():
            for rate, dimension in term["priceDimensions"].items():
                end = dimension["endRange"]
                prices.append(
                    PriceRow(
                        sku,
                        rate,
                        "Hrs",
                        Decimal(dimension["pricePerUnit"]["USD"]),
                        Decimal(dimension["beginRange"]),
                        None if end == "Inf" else Decimal(end),
                    )
                )
    return products, prices


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=offer_documents(),
    indent=st.sampled_from([None, 1, 2, 4]),
    ascii_only=st.booleans(),
    chunk_size=st.sampled_from([1, 3, 17, 64, 333, 4096, 1 << 22]),
)
def test_streaming_equals_parsing_the_whole_document(
    document: dict[str, Any], indent: int | None, ascii_only: bool, chunk_size: int
) -> None:
    separators = (",", ":") if indent is None else (", ", " : ")
    payload = json.dumps(document, indent=indent, ensure_ascii=ascii_only, separators=separators).encode()

    read = read_bytes(payload, chunk_size=chunk_size)

    expected_products, expected_prices = _expected(document)
    assert read.products == expected_products
    assert read.prices == expected_prices
    assert read.header.offer_code == "AmazonEC2"
