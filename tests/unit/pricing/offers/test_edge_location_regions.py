"""CloudFront's edge-location products are global: filed under ``global``, never dropped as unknown."""

from __future__ import annotations

from cloudcostguard.pricing.offers.locations import GLOBAL_REGION, region_of


def test_edge_location_requests_are_global() -> None:
    attributes = {
        "location": "United States",
        "locationType": "AWS Edge Location",
        "usagetype": "US-Requests-Tier1",
    }
    assert region_of(attributes) == GLOBAL_REGION


def test_edge_location_data_transfer_is_global() -> None:
    attributes = {
        "fromLocation": "Europe",
        "fromLocationType": "AWS Edge Location",
        "toLocation": "External",
        "transferType": "CloudFront Outbound",
    }
    assert region_of(attributes) == GLOBAL_REGION


def test_regional_products_keep_their_region() -> None:
    assert region_of({"location": "South America (Sao Paulo)", "locationType": "AWS Region"}) == "sa-east-1"
    assert region_of({"fromLocation": "EU (Ireland)", "fromLocationType": "AWS Region"}) == "eu-west-1"
    assert region_of({"location": "Nowhere", "locationType": "AWS Edge Location"}) == GLOBAL_REGION
    assert region_of({"location": "Nowhere", "locationType": "AWS Region"}) is None
