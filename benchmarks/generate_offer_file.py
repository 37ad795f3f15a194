"""Write a synthetic AWS offer file in the official JSON layout, at the scale of a real regional EC2 file.

    python benchmarks/generate_offer_file.py --skus 200000 --out /tmp/AmazonEC2-us-east-1.json [--gzip]

The mix follows a real AmazonEC2 regional file: mostly "Compute Instance" products (instance type ×
operating system × tenancy × pre-installed software × licence × capacity status, each with the ~35
attributes AWS lists, hardware descriptions included), and the other families the file holds (EBS
storage, IOPS, snapshots, data transfer without a location, the tiered Elastic IP, NAT gateways, fees,
dedicated hosts). Every product has an OnDemand term; the "Used" instance products also have the 12
Reserved terms (hourly and upfront dimensions), which the reader must skip. Generated, never committed.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

REGION = "us-east-1"
LOCATION = "US East (N. Virginia)"
FAMILIES = [
    "t3",
    "t3a",
    "t4g",
    "m5",
    "m5a",
    "m5d",
    "m6i",
    "m6g",
    "m7i",
    "m7g",
    "c5",
    "c5d",
    "c6i",
    "c6g",
    "c7i",
]
FAMILIES += ["r5", "r5d", "r6i", "r6g", "r7i", "i3", "i4i", "g5", "p4d", "x2idn", "z1d", "d3", "h1", "inf2"]
SIZES = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge"]
SIZES += ["16xlarge", "24xlarge", "32xlarge", "48xlarge", "metal"]
OPERATING_SYSTEMS = [
    ("Linux", "RunInstances"),
    ("Windows", "RunInstances:0002"),
    ("RHEL", "RunInstances:0010"),
    ("SUSE", "RunInstances:000g"),
    ("Red Hat Enterprise Linux with HA", "RunInstances:1010"),
    ("Ubuntu Pro", "RunInstances:0g00"),
]
TENANCIES = [("Shared", "BoxUsage"), ("Dedicated", "DedicatedUsage"), ("Host", "HostBoxUsage")]
SOFTWARE = ["NA", "SQL Web", "SQL Std", "SQL Ent"]
LICENSES = ["No License required", "Bring your own license"]
CAPACITY = ["Used", "UnusedCapacityReservation", "AllocatedCapacityReservation"]
RESERVED = [
    ("4NA7Y494T4", "1yr", "standard", "No Upfront"),
    ("HU7G6KETJZ", "1yr", "standard", "Partial Upfront"),
    ("6QCMYABX3D", "1yr", "standard", "All Upfront"),
    ("BPH4J8HBKS", "3yr", "standard", "No Upfront"),
    ("38NPMPTW36", "3yr", "standard", "Partial Upfront"),
    ("NQ3QZPMQV9", "3yr", "standard", "All Upfront"),
    ("7NE97W5U4E", "1yr", "convertible", "No Upfront"),
    ("CUZHX8X6JH", "1yr", "convertible", "Partial Upfront"),
    ("VJWZNREJX2", "1yr", "convertible", "All Upfront"),
    ("Z2E3P23VKM", "3yr", "convertible", "No Upfront"),
    ("R5XV2EPZQZ", "3yr", "convertible", "Partial Upfront"),
    ("MZU6U2429S", "3yr", "convertible", "All Upfront"),
]
SKU_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def sku_of(number: int) -> str:
    """16 characters like AWS SKUs; multiplying by an odd number modulo 32**16 keeps them unique."""
    value = (number * 0x9E3779B97F4A7C15 + 12345) % 32**16
    digits = []
    for _ in range(16):
        value, rest = divmod(value, 32)
        digits.append(SKU_ALPHABET[rest])
    return "".join(digits)


def instance_products() -> Iterator[tuple[str | None, dict[str, str], bool]]:
    for family, size in itertools.product(FAMILIES, SIZES):
        instance = f"{family}.{size}"
        for (system, operation), (tenancy, usage), software, licence, capacity in itertools.product(
            OPERATING_SYSTEMS, TENANCIES, SOFTWARE, LICENSES, CAPACITY
        ):
            prefix = {"UnusedCapacityReservation": "Unused", "AllocatedCapacityReservation": "Reservation"}
            usagetype = f"{prefix.get(capacity, usage)}:{instance}"
            attributes = {
                "servicecode": "AmazonEC2",
                "location": LOCATION,
                "locationType": "AWS Region",
                "instanceType": instance,
                "currentGeneration": "Yes",
                "instanceFamily": "General purpose",
                "vcpu": "2",
                "physicalProcessor": "Intel Xeon Platinum 8175",
                "clockSpeed": "3.1 GHz",
                "memory": "8 GiB",
                "storage": "EBS only",
                "networkPerformance": "Up to 10 Gigabit",
                "processorArchitecture": "64-bit",
                "tenancy": tenancy,
                "operatingSystem": system,
                "licenseModel": licence,
                "usagetype": usagetype,
                "operation": operation + ("" if software == "NA" else "0"),
                "availabilityzone": "NA",
                "capacitystatus": capacity,
                "classicnetworkingsupport": "false",
                "dedicatedEbsThroughput": "Up to 2120 Mbps",
                "ecu": "10",
                "enhancedNetworkingSupported": "Yes",
                "gpuMemory": "NA",
                "intelAvxAvailable": "Yes",
                "intelAvx2Available": "Yes",
                "intelTurboAvailable": "Yes",
                "marketoption": "OnDemand",
                "normalizationSizeFactor": "4",
                "preInstalledSw": software,
                "processorFeatures": "Intel AVX; Intel AVX2; Intel AVX512; Intel Turbo",
                "regionCode": REGION,
                "servicename": "Amazon Elastic Compute Cloud",
                "vpcnetworkingsupport": "true",
            }
            yield "Compute Instance", attributes, capacity == "Used" and tenancy != "Host"


def other_products() -> Iterator[tuple[str | None, dict[str, str], bool]]:
    base = {
        "servicecode": "AmazonEC2",
        "location": LOCATION,
        "locationType": "AWS Region",
        "regionCode": REGION,
    }
    for volume in ("gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"):
        yield "Storage", {**base, "volumeApiName": volume, "usagetype": f"EBS:VolumeUsage.{volume}"}, False
        yield (
            "System Operation",
            {**base, "group": "EBS IOPS", "volumeApiName": volume, "usagetype": f"EBS:VolumeP-IOPS.{volume}"},
            False,
        )
    for number in itertools.count():
        yield (
            "Data Transfer",
            {
                "servicecode": "AWSDataTransfer",
                "fromLocation": LOCATION,
                "fromLocationType": "AWS Region",
                "fromRegionCode": REGION,
                "toLocation": f"Destination {number}",
                "toLocationType": "AWS Region",
                "transferType": "InterRegion Outbound",
                "usagetype": f"USE1-X{number}-AWS-Out-Bytes",
            },
            False,
        )
        yield (
            "IP Address",
            {**base, "group": "ElasticIP:Address", "usagetype": f"ElasticIP:IdleAddress{number}"},
            False,
        )
        yield (
            "NAT Gateway",
            {**base, "group": "NGW:NatGateway", "usagetype": f"NatGateway-Hours{number}"},
            False,
        )
        yield "Storage Snapshot", {**base, "usagetype": f"EBS:SnapshotUsage{number}"}, False
        yield "Fee", {**base, "group": "EC2-Dedicated Usage", "usagetype": f"DedicatedUsage{number}"}, False


def products(count: int) -> Iterator[tuple[str, str | None, dict[str, str], bool]]:
    """(sku, productFamily, attributes, has reserved terms): ~85% instances, the rest other families."""
    instances, others = instance_products(), other_products()
    for number in range(count):
        family, attributes, reserved = next(others) if number % 7 == 6 else next(instances, (None, {}, False))
        if family is None:
            family, attributes, reserved = next(others)
        yield sku_of(number), family, attributes, reserved


def on_demand_term(sku: str, family: str | None, number: int) -> dict[str, Any]:
    code = f"{sku}.JRTCKXETXF"
    dimensions: dict[str, Any] = {}
    if family == "IP Address":  # the "first hour free" tier
        tiers = [("0", "1", "0.0000000000"), ("1", "Inf", "0.0050000000")]
    else:
        tiers = [("0", "Inf", f"{(number % 9973) / 1000:.10f}")]
    for index, (begin, end, usd) in enumerate(tiers):
        rate = f"{code}.{'6YS6EN2CT7' if index == 0 else 'JTU8TKNAMW'}"
        dimensions[rate] = {
            "rateCode": rate,
            "description": f"${usd} per On Demand hour",
            "beginRange": begin,
            "endRange": end,
            "unit": "Hrs",
            "pricePerUnit": {"USD": usd},
            "appliesTo": [],
        }
    return {
        code: {
            "offerTermCode": "JRTCKXETXF",
            "sku": sku,
            "effectiveDate": "2026-01-01T00:00:00Z",
            "priceDimensions": dimensions,
            "termAttributes": {},
        }
    }


def reserved_terms(sku: str, number: int) -> dict[str, Any]:
    terms = {}
    for code, length, offering, purchase in RESERVED:
        term_code = f"{sku}.{code}"
        hourly = f"{term_code}.6YS6EN2CT7"
        upfront = f"{term_code}.2TG2D8R56U"
        terms[term_code] = {
            "offerTermCode": code,
            "sku": sku,
            "effectiveDate": "2026-01-01T00:00:00Z",
            "priceDimensions": {
                hourly: {
                    "rateCode": hourly,
                    "description": "reserved hourly",
                    "beginRange": "0",
                    "endRange": "Inf",
                    "unit": "Hrs",
                    "pricePerUnit": {"USD": f"{(number % 997) / 2000:.10f}"},
                    "appliesTo": [],
                },
                upfront: {
                    "rateCode": upfront,
                    "description": "Upfront Fee",
                    "unit": "Quantity",
                    "pricePerUnit": {"USD": str(number % 5000)},
                    "appliesTo": [],
                },
            },
            "termAttributes": {
                "LeaseContractLength": length,
                "OfferingClass": offering,
                "PurchaseOption": purchase,
            },
        }
    return terms


CHUNK = 5000


def _object_body(items: dict[str, Any]) -> bytes:
    """``"k": v, …`` without the braces, so that chunks can be concatenated into one object."""
    return orjson.dumps(items, option=orjson.OPT_INDENT_2)[1:-1].strip()


def write_offer(out: IO[bytes], count: int) -> dict[str, int]:
    header = {
        "formatVersion": "v1.0",
        "disclaimer": "Synthetic offer file for CloudCostGuard benchmarks.",
        "offerCode": "AmazonEC2",
        "version": "20260101000000",
        "publicationDate": "2026-01-01T00:00:00Z",
    }
    out.write(orjson.dumps(header, option=orjson.OPT_INDENT_2)[:-2] + b',\n  "products" : {\n')
    catalog = list(products(count))
    first = True
    for start in range(0, count, CHUNK):
        chunk = {
            sku: {"sku": sku, "productFamily": family, "attributes": attributes}
            for sku, family, attributes, _ in catalog[start : start + CHUNK]
        }
        out.write((b"" if first else b",\n") + _object_body(chunk))
        first = False
    out.write(b'\n  },\n  "terms" : {\n    "OnDemand" : {\n')
    first = True
    for start in range(0, count, CHUNK):
        chunk = {
            sku: on_demand_term(sku, family, start + offset)
            for offset, (sku, family, _, _) in enumerate(catalog[start : start + CHUNK])
        }
        out.write((b"" if first else b",\n") + _object_body(chunk))
        first = False
    out.write(b'\n    },\n    "Reserved" : {\n')
    first = True
    reserved_count = 0
    for start in range(0, count, CHUNK):
        chunk = {
            sku: reserved_terms(sku, start + offset)
            for offset, (sku, _, _, reserved) in enumerate(catalog[start : start + CHUNK])
            if reserved
        }
        reserved_count += len(chunk)
        if chunk:
            out.write((b"" if first else b",\n") + _object_body(chunk))
            first = False
    out.write(b"\n    }\n  }\n}\n")
    families: dict[str, int] = {}
    for _, family, _, _ in catalog:
        families[family or ""] = families.get(family or "", 0) + 1
    return {
        "skus": count,
        "with_reserved_terms": reserved_count,
        **{f"family:{k}": v for k, v in families.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=200_000)
    parser.add_argument("--out", type=Path, help="file to write (default: a temporary file, then deleted)")
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ccg-offer-") as folder:
        out = args.out or Path(folder) / "offer.json"
        started = time.monotonic()
        opener = gzip.open if args.gzip else open
        with opener(out, "wb") as handle:  # type: ignore[operator]
            counts = write_offer(handle, args.skus)
        seconds = round(time.monotonic() - started, 1)
        print(
            orjson.dumps(
                {"path": str(out), "bytes": out.stat().st_size, "seconds": seconds, **counts}
            ).decode()
        )


if __name__ == "__main__":
    main()
