"""A local stand-in for pricing.us-east-1.amazonaws.com: serves fixture files on 127.0.0.1 (no internet)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from tests.unit.pricing.offers.samples import EC2_VERSION_INDEX, S3_EXCERPT, SERVICE_INDEX

S3_VERSION = "20230123170643"
S3_REGIONAL_PATH = f"/offers/v1.0/aws/AmazonS3/{S3_VERSION}/us-east-1/index.json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def s3_region_index() -> bytes:
    """AmazonS3's region index in the documented shape (FORMAT.md §3; no real copy exists)."""
    return orjson.dumps(
        {
            "formatVersion": "v1.0",
            "disclaimer": "test",
            "publicationDate": "2023-01-23T17:06:43Z",
            "regions": {
                "us-east-1": {"regionCode": "us-east-1", "currentVersionUrl": S3_REGIONAL_PATH},
                "eu-west-1": {
                    "regionCode": "eu-west-1",
                    "currentVersionUrl": f"/offers/v1.0/aws/AmazonS3/{S3_VERSION}/eu-west-1/index.json",
                },
            },
        }
    )


@dataclass
class PriceListServer:
    files: dict[str, bytes] = field(default_factory=dict)
    handlers: dict[str, Handler] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    base_url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        if path in self.handlers:
            return await self.handlers[path](request)
        if path in self.files:
            return web.Response(body=self.files[path], content_type="application/json")
        return web.Response(status=404, text="no such key")


def default_files() -> dict[str, bytes]:
    return {
        "/offers/v1.0/aws/index.json": SERVICE_INDEX.read_bytes(),
        "/offers/v1.0/aws/AmazonS3/current/region_index.json": s3_region_index(),
        S3_REGIONAL_PATH: S3_EXCERPT.read_bytes(),
        "/offers/v1.0/aws/AmazonEC2/index.json": EC2_VERSION_INDEX.read_bytes(),
    }


@asynccontextmanager
async def serve(server: PriceListServer | None = None) -> AsyncIterator[PriceListServer]:
    state = server or PriceListServer(files=default_files())
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", state.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
    port = sockets[0].getsockname()[1]
    state.base_url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await asyncio.wait_for(runner.cleanup(), timeout=5)
