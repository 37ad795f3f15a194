"""An HTTPS stand-in for pricing.us-east-1.amazonaws.com serving the whole index chain (``pricing sync``).

It runs on 127.0.0.1, port 0, in a thread of its own (the CLI under test runs its own event loop), with
a throwaway CA. The service index is the real one (``tests/fixtures/offers/``); the region indexes
follow the documented shape (FORMAT.md §3); the regional offer files are written here in the official
JSON format with **synthetic** prices (test fixtures only; distinctive values such as 0.9111, so that
a number in a result can only have come from here).
"""

from __future__ import annotations

import asyncio
import csv
import io
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from cloudcostguard.pricing.offers.model import PRICED_SERVICES
from tests.unit.k8s.admission.tls import make_tls
from tests.unit.pricing.offers.samples import SERVICE_INDEX

REGION = "eu-central-1"
LOCATION = "EU (Frankfurt)"
ON_DEMAND = "JRTCKXETXF"
RATE = "6YS6EN2CT7"

# Synthetic prices, one per product the eu-central-1 plan asks for.
M5_4XLARGE_HOURLY = Decimal("0.9111")
GP2_GB_MONTH = Decimal("0.1234")
IO1_GB_MONTH = Decimal("0.1456")
IO1_IOPS_MONTH = Decimal("0.0789")
DB_R5_LARGE_MULTI_AZ_HOURLY = Decimal("0.5555")
RDS_GP2_MULTI_AZ_GB_MONTH = Decimal("0.2468")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _product(sku: str, family: str, attributes: dict[str, str], service: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "productFamily": family,
        "attributes": {
            "servicecode": service,
            "location": LOCATION,
            "locationType": "AWS Region",
            "regionCode": REGION,
            **attributes,
        },
    }


def _terms(sku: str, unit: str, price: Decimal, effective: str) -> dict[str, Any]:
    code = f"{sku}.{ON_DEMAND}"
    return {
        code: {
            "offerTermCode": ON_DEMAND,
            "sku": sku,
            "effectiveDate": effective,
            "priceDimensions": {
                f"{code}.{RATE}": {
                    "rateCode": f"{code}.{RATE}",
                    "description": f"synthetic test price {price} per {unit}",
                    "beginRange": "0",
                    "endRange": "Inf",
                    "unit": unit,
                    "pricePerUnit": {"USD": f"{price:.10f}"},
                    "appliesTo": [],
                }
            },
            "termAttributes": {},
        }
    }


def offer_file(service: str, version: str, items: list[tuple[dict[str, Any], str, Decimal]]) -> bytes:
    """An official-format regional offer file: products, OnDemand terms, one Reserved term to skip."""
    published = f"{version[:4]}-{version[4:6]}-{version[6:8]}T00:00:00Z"
    products = {item["sku"]: item for item, _, _ in items}
    on_demand = {item["sku"]: _terms(item["sku"], unit, price, published) for item, unit, price in items}
    first = next(iter(products))
    reserved = {
        first: {
            f"{first}.4NA7Y494T4": {
                **_terms(first, "Hrs", Decimal("0.1"), published)[f"{first}.{ON_DEMAND}"],
                "offerTermCode": "4NA7Y494T4",
            }
        }
    }
    return orjson.dumps(
        {
            "formatVersion": "v1.0",
            "disclaimer": "synthetic test offer file",
            "offerCode": service,
            "version": version,
            "publicationDate": published,
            "products": products,
            "terms": {"OnDemand": on_demand, "Reserved": reserved},
        }
    )


def ec2_offer(version: str, hourly: Decimal = M5_4XLARGE_HOURLY) -> bytes:
    linux = {
        "instanceType": "m5.4xlarge",
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "licenseModel": "No License required",
        "operation": "RunInstances",
        "usagetype": "EUC1-BoxUsage:m5.4xlarge",
        "vcpu": "16",
        "memory": "64 GiB",
    }
    return offer_file(
        "AmazonEC2",
        version,
        [
            (
                _product("SYNTHM54XL", "Compute Instance", {**linux, "capacitystatus": "Used"}, "AmazonEC2"),
                "Hrs",
                hourly,
            ),
            # A capacity-reservation row of the same type: never what an estimate prices.
            (
                _product(
                    "SYNTHM54XLUCR",
                    "Compute Instance",
                    {**linux, "capacitystatus": "UnusedCapacityReservation"},
                    "AmazonEC2",
                ),
                "Hrs",
                Decimal("7.7777"),
            ),
            (
                _product(
                    "SYNTHGP2",
                    "Storage",
                    {"volumeApiName": "gp2", "usagetype": "EUC1-EBS:VolumeUsage.gp2"},
                    "AmazonEC2",
                ),
                "GB-Mo",
                GP2_GB_MONTH,
            ),
            (
                _product(
                    "SYNTHIO1",
                    "Storage",
                    {"volumeApiName": "io1", "usagetype": "EUC1-EBS:VolumeUsage.piops"},
                    "AmazonEC2",
                ),
                "GB-Mo",
                IO1_GB_MONTH,
            ),
            (
                _product(
                    "SYNTHPIOPS",
                    "System Operation",
                    {"group": "EBS IOPS", "usagetype": "EUC1-EBS:VolumeP-IOPS.piops"},
                    "AmazonEC2",
                ),
                "IOPS-Mo",
                IO1_IOPS_MONTH,
            ),
        ],
    )


def rds_offer(version: str) -> bytes:
    return offer_file(
        "AmazonRDS",
        version,
        [
            (
                _product(
                    "SYNTHR5L",
                    "Database Instance",
                    {
                        "instanceType": "db.r5.large",
                        "databaseEngine": "PostgreSQL",
                        "deploymentOption": "Multi-AZ",
                        "licenseModel": "No license required",
                        "usagetype": "EUC1-Multi-AZUsage:db.r5.large",
                    },
                    "AmazonRDS",
                ),
                "Hrs",
                DB_R5_LARGE_MULTI_AZ_HOURLY,
            ),
            (
                _product(
                    "SYNTHRDSGP2",
                    "Database Storage",
                    {
                        "volumeType": "General Purpose",
                        "deploymentOption": "Multi-AZ",
                        "databaseEngine": "PostgreSQL",
                        "usagetype": "EUC1-RDS:Multi-AZ-GP2-Storage",
                    },
                    "AmazonRDS",
                ),
                "GB-Mo",
                RDS_GP2_MULTI_AZ_GB_MONTH,
            ),
        ],
    )


def regional_path(service: str, version: str, region: str = REGION) -> str:
    return f"/offers/v1.0/aws/{service}/{version}/{region}/index.json"


def region_index(service: str, versions: dict[str, str]) -> bytes:
    """A region index (FORMAT.md §3) listing ``versions`` {region: version}."""
    return orjson.dumps(
        {
            "formatVersion": "v1.0",
            "disclaimer": "synthetic",
            "publicationDate": "2026-12-01T00:00:00Z",
            "regions": {
                region: {"regionCode": region, "currentVersionUrl": regional_path(service, version, region)}
                for region, version in versions.items()
            },
        }
    )


@dataclass
class PriceListSite:
    """What is served, editable while the server runs; ``hits`` counts requests per path."""

    files: dict[str, bytes] = field(default_factory=dict)
    handlers: dict[str, Handler] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    base_url: str = ""
    ca_file: Path | None = None

    def publish(self, ec2_version: str, rds_version: str, *, ec2_body: bytes | None = None) -> None:
        """EC2 and RDS have an eu-central-1 file; every other priced service lists only another region."""
        for service in PRICED_SERVICES:
            self.files[f"/offers/v1.0/aws/{service}/current/region_index.json"] = region_index(
                service, {"ap-southeast-7": "20261101000000"}
            )
        self.files["/offers/v1.0/aws/AmazonEC2/current/region_index.json"] = region_index(
            "AmazonEC2", {REGION: ec2_version}
        )
        self.files["/offers/v1.0/aws/AmazonRDS/current/region_index.json"] = region_index(
            "AmazonRDS", {REGION: rds_version}
        )
        self.files[regional_path("AmazonEC2", ec2_version)] = ec2_body or ec2_offer(ec2_version)
        self.files[regional_path("AmazonRDS", rds_version)] = rds_offer(rds_version)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        handler = self.handlers.get(request.path)
        if handler is not None:
            return await handler(request)
        body = self.files.get(request.path)
        if body is None:
            return web.Response(status=404, text="NoSuchKey")
        return web.Response(body=body, content_type="application/json")


async def truncated(request: web.Request, body: bytes) -> web.StreamResponse:
    """Announce the whole length, send half, drop the connection (a download cut off mid-way)."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    assert request.transport is not None
    request.transport.close()
    return response


@contextmanager
def serve_price_list(folder: Path) -> Iterator[PriceListSite]:
    site = PriceListSite(files={"/offers/v1.0/aws/index.json": SERVICE_INDEX.read_bytes()})
    tls = make_tls(folder / "tls", "127.0.0.1")
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", site.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        tcp = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await tcp.start()
        sockets = tcp._server.sockets if tcp._server is not None else []  # type: ignore[union-attr]
        site.base_url = f"https://127.0.0.1:{sockets[0].getsockname()[1]}"
        state["runner"] = runner

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="price-list-https", daemon=True)
    thread.start()
    assert started.wait(10), "the test Price List server did not start"
    site.ca_file = tls.ca_file
    try:
        yield site
    finally:
        asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


# JSON attribute key → the CSV column's display name (FORMAT.md §5); checked against the reader's rule.
CSV_COLUMNS = {
    "servicecode": "serviceCode",
    "location": "Location",
    "locationType": "Location Type",
    "regionCode": "Region Code",
    "instanceType": "Instance Type",
    "operatingSystem": "Operating System",
    "tenancy": "Tenancy",
    "preInstalledSw": "Pre Installed S/W",
    "licenseModel": "License Model",
    "operation": "operation",
    "usagetype": "usageType",
    "vcpu": "vCPU",
    "memory": "Memory",
    "capacitystatus": "CapacityStatus",
    "volumeApiName": "Volume API Name",
    "group": "Group",
    "databaseEngine": "Database Engine",
    "deploymentOption": "Deployment Option",
    "volumeType": "Volume Type",
}
_CSV_FIXED = [
    "SKU",
    "OfferTermCode",
    "RateCode",
    "TermType",
    "PriceDescription",
    "EffectiveDate",
    "StartingRange",
    "EndingRange",
    "Unit",
    "PricePerUnit",
    "Currency",
    "RelatedTo",
    "LeaseContractLength",
    "PurchaseOption",
    "OfferingClass",
    "Product Family",
]


def as_csv(json_offer: bytes) -> bytes:
    """The same offer in the CSV variant: 5 metadata rows, the header, one row per price dimension."""
    document = orjson.loads(json_offer)
    names = sorted({k for p in document["products"].values() for k in p["attributes"]})
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for label, key in (
        ("FormatVersion", "formatVersion"),
        ("Disclaimer", "disclaimer"),
        ("Publication Date", "publicationDate"),
        ("Version", "version"),
        ("OfferCode", "offerCode"),
    ):
        writer.writerow([label, document[key]])
    writer.writerow([*_CSV_FIXED, *(CSV_COLUMNS[n] for n in names)])
    for term_type, by_sku in document["terms"].items():
        for sku, terms in by_sku.items():
            product = document["products"][sku]
            for term in terms.values():
                for dimension in term["priceDimensions"].values():
                    writer.writerow(
                        [
                            sku,
                            term["offerTermCode"],
                            dimension["rateCode"],
                            term_type,
                            dimension["description"],
                            term["effectiveDate"][:10],
                            dimension["beginRange"],
                            dimension["endRange"],
                            dimension["unit"],
                            dimension["pricePerUnit"]["USD"],
                            "USD",
                            "",
                            "",
                            "",
                            "",
                            product["productFamily"],
                            *(product["attributes"].get(n, "") for n in names),
                        ]
                    )
    return out.getvalue().encode()
