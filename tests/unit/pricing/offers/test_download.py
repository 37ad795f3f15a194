"""``--from-aws``: index → region index → regional file, against a local server serving fixtures."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from cloudcostguard import errors
from cloudcostguard.pricing.offers.download import DownloadError, PriceListClient, ProgressBar
from cloudcostguard.settings import Settings
from tests.unit.pricing.offers.price_list_server import (
    S3_REGIONAL_PATH,
    PriceListServer,
    default_files,
    serve,
)
from tests.unit.pricing.offers.samples import S3_EXCERPT


def _settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"download_timeout": 2.0, "download_retries": 2} | overrides
    return Settings(**values)  # type: ignore[arg-type]


def _client(
    server: PriceListServer, settings: Settings | None = None, stream: io.StringIO | None = None
) -> PriceListClient:
    return PriceListClient(
        settings or _settings(),
        base_url=server.base_url,
        backoff=0.01,
        progress_stream=stream or io.StringIO(),
    )


async def test_resolves_the_regional_file_through_the_service_and_region_indexes(tmp_path: Path) -> None:
    async with serve() as server, _client(server) as client:
        [offer] = await client.resolve("AmazonS3", ["us-east-1"])
        size = await client.download(offer.url, tmp_path / offer.file_name)

    assert offer.url == server.base_url + S3_REGIONAL_PATH
    assert (offer.service, offer.region, offer.file_format) == ("AmazonS3", "us-east-1", "json")
    assert (tmp_path / "AmazonS3-us-east-1.json").read_bytes() == S3_EXCERPT.read_bytes()
    assert size == S3_EXCERPT.stat().st_size


async def test_csv_format_points_at_the_csv_file() -> None:
    async with serve() as server, _client(server) as client:
        [offer] = await client.resolve("AmazonS3", ["eu-west-1"], file_format="csv")

    assert offer.url == server.base_url + "/offers/v1.0/aws/AmazonS3/20230123170643/eu-west-1/index.csv"


async def test_a_pinned_version_is_found_through_the_version_index() -> None:
    files = default_files()
    region_index = {"regions": [{"regionCode": "eu-west-1", "versionUrl": "/x/eu-west-1/index.json"}]}
    # The real AmazonEC2 version index names this version's offer file; its folder holds region_index.json.
    files["/offers/v1.0/aws/AmazonEC2/20220304165507/region_index.json"] = orjson.dumps(region_index)
    async with serve(PriceListServer(files=files)) as server, _client(server) as client:
        [offer] = await client.resolve("AmazonEC2", ["eu-west-1"], version="20220304165507")

    assert offer.url == server.base_url + "/x/eu-west-1/index.json"
    assert server.hits["/offers/v1.0/aws/AmazonEC2/index.json"] == 1


async def test_unknown_service_names_close_matches() -> None:
    async with serve() as server, _client(server) as client:
        with pytest.raises(
            errors.OfferFileError, match=r"unknown service AmazonS4: .*did you mean AmazonS3"
        ) as caught:
            await client.resolve("AmazonS4", ["us-east-1"])
    assert caught.value.reason == "OfferServiceUnknown"


async def test_unknown_region_is_an_error() -> None:
    async with serve() as server, _client(server) as client:
        with pytest.raises(errors.OfferFileError, match="AmazonS3 has no price list for region us-east-7"):
            await client.resolve("AmazonS3", ["us-east-7"])


async def test_unknown_version_is_an_error() -> None:
    async with serve() as server, _client(server) as client:
        with pytest.raises(errors.OfferFileError, match="AmazonEC2 has no price list version 19990101000000"):
            await client.resolve("AmazonEC2", ["us-east-1"], version="19990101000000")


async def test_transient_failures_are_retried_with_backoff(tmp_path: Path) -> None:
    server = PriceListServer(files=default_files())
    failures = 2

    async def flaky(request: web.Request) -> web.StreamResponse:
        if server.hits[request.path] <= failures:
            return web.Response(status=503, text="slow down")
        return web.Response(body=S3_EXCERPT.read_bytes())

    server.handlers[S3_REGIONAL_PATH] = flaky
    stream = io.StringIO()
    async with serve(server), _client(server, stream=stream) as client:
        await client.download(server.base_url + S3_REGIONAL_PATH, tmp_path / "s3.json")

    assert server.hits[S3_REGIONAL_PATH] == failures + 1
    assert (tmp_path / "s3.json").read_bytes() == S3_EXCERPT.read_bytes()
    assert stream.getvalue().count("retrying") == failures
    assert "HTTP 503" in stream.getvalue()


async def test_giving_up_after_the_configured_retries(tmp_path: Path) -> None:
    server = PriceListServer(files=default_files())

    async def broken(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500)

    server.handlers[S3_REGIONAL_PATH] = broken
    async with serve(server), _client(server, _settings(download_retries=1)) as client:
        with pytest.raises(DownloadError, match="after 2 attempts: HTTP 500"):
            await client.download(server.base_url + S3_REGIONAL_PATH, tmp_path / "s3.json")
    assert server.hits[S3_REGIONAL_PATH] == 2


async def test_a_client_error_is_not_retried(tmp_path: Path) -> None:
    async with serve() as server, _client(server) as client:
        with pytest.raises(DownloadError, match="HTTP 404"):
            await client.download(server.base_url + "/offers/v1.0/aws/missing.json", tmp_path / "x")
    assert server.hits["/offers/v1.0/aws/missing.json"] == 1


async def test_a_server_that_stops_sending_times_out_and_is_retried(tmp_path: Path) -> None:
    server = PriceListServer(files=default_files())
    resume = asyncio.Event()  # set once the client has given up: the stall outlasts any timeout

    async def stalls(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 10_000
        await response.prepare(request)
        await response.write(b"{" * 100)
        await resume.wait()
        return response

    server.handlers[S3_REGIONAL_PATH] = stalls
    async with serve(server), _client(server, _settings(download_timeout=0.3, download_retries=1)) as client:
        try:
            with pytest.raises(DownloadError, match="after 2 attempts: no data within the download timeout"):
                await client.download(server.base_url + S3_REGIONAL_PATH, tmp_path / "s3.json")
        finally:
            resume.set()


async def test_files_over_the_size_limit_are_refused(tmp_path: Path) -> None:
    server = PriceListServer(files=default_files())

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # no Content-Length: the limit applies while streaming
        await response.prepare(request)
        for _ in range(10):
            await response.write(b" " * 1000)
        return response

    server.handlers["/chunked.json"] = chunked
    limit = 1000
    async with serve(server), _client(server, _settings(download_max_bytes=limit)) as client:
        with pytest.raises(DownloadError, match=f"over the limit of {limit}"):
            await client.download(server.base_url + S3_REGIONAL_PATH, tmp_path / "a")
        with pytest.raises(DownloadError, match=f"larger than the limit of {limit} bytes"):
            await client.download(server.base_url + "/chunked.json", tmp_path / "b")
    assert server.hits[S3_REGIONAL_PATH] == 1  # a size refusal is final


async def test_urls_to_other_hosts_are_not_followed() -> None:
    files = default_files()
    files["/offers/v1.0/aws/AmazonS3/current/region_index.json"] = orjson.dumps(
        {
            "regions": {
                "us-east-1": {"regionCode": "us-east-1", "currentVersionUrl": "https://evil.example/x.json"}
            }
        }
    )
    async with serve(PriceListServer(files=files)) as server, _client(server) as client:
        with pytest.raises(DownloadError, match=r"points outside 127\.0\.0\.1"):
            await client.resolve("AmazonS3", ["us-east-1"])


async def test_progress_is_reported_on_the_given_stream(tmp_path: Path) -> None:
    server = PriceListServer(files=default_files())
    big = b" " * (3 * 1024 * 1024) + S3_EXCERPT.read_bytes()
    server.files["/big.json"] = big
    stream = io.StringIO()
    async with serve(server), _client(server, stream=stream) as client:
        await client.download(server.base_url + "/big.json", tmp_path / "big.json", label="big.json")

    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("big.json [##############################] 100% 3.0/3.0 MiB")
    assert lines[-1].endswith(" done")
    # Not a terminal: a line at each quarter passed (chunks are up to 1 MiB, so at least two of them).
    partial = [int(line.split("]")[1].split("%")[0]) for line in lines[:-1] if line.startswith("big.json [")]
    assert len(partial) >= 2
    assert all(25 <= percent < 100 for percent in partial)


def test_progress_bar_without_a_known_size_counts_bytes() -> None:
    stream = io.StringIO()
    bar = ProgressBar("x", None, stream)
    bar.update(2 * 1024 * 1024)
    bar.finish()

    assert stream.getvalue().startswith("x 2.0 MiB ")
