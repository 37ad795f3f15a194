"""The one typed settings object. Every field is read from ``CCG_<NAME>`` or given by a CLI flag.

Settings load once and fail fast with a message naming the variable (see ``load_settings``); tests
construct ``Settings(...)`` directly. There are no default credentials: ``database_url`` is empty
unless configured.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloudcostguard import errors

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCG_", extra="forbid", frozen=True)

    # --- estimation ---------------------------------------------------------------------------
    default_region: str = Field("us-east-1", description="Region for resources whose provider sets none.")
    max_plan_bytes: int = Field(
        50 * MiB, gt=0, description="Largest plan accepted, in bytes (CLI, operator and webhook)."
    )
    hours_per_month: Decimal = Field(Decimal(730), description="Hours in a billing month (AWS uses 730).")

    # --- pricing store ------------------------------------------------------------------------
    database_url: SecretStr | None = Field(
        None, description="PostgreSQL URL of the pricing store; empty means the bundled snapshot."
    )
    db_pool_min_size: int = Field(1, ge=0, description="Connections kept open in the pool.")
    db_pool_max_size: int = Field(5, ge=1, description="Most connections in the pool.")
    db_connect_timeout: float = Field(5.0, gt=0, description="Seconds to open one connection.")
    db_command_timeout: float = Field(30.0, gt=0, description="Seconds any one query may take.")
    db_statement_timeout_ms: int = Field(
        60_000, gt=0, description="Server-side statement_timeout for pool connections, ms."
    )
    db_max_connection_lifetime: float = Field(
        300.0, gt=0, description="Seconds before an idle pooled connection is replaced."
    )
    catalog_refresh_interval: float = Field(
        300.0, gt=0, description="Seconds between catalog version checks (besides LISTEN/NOTIFY)."
    )
    catalog_cache_file: Path | None = Field(
        None, description="File where the last good price catalog is kept for cold starts."
    )
    pricing_services: list[str] = Field(
        default_factory=list, description="Offer codes to keep when loading (empty: all priced ones)."
    )
    pricing_regions: list[str] = Field(
        default_factory=list,
        description="Regions to keep when loading, and to sync when `pricing sync` names none (empty: all).",
    )
    download_timeout: float = Field(
        60.0, gt=0, description="Seconds without progress before a download fails."
    )
    download_max_bytes: int = Field(4096 * MiB, gt=0, description="Largest offer file downloaded, in bytes.")
    download_retries: int = Field(3, ge=0, description="Retries of a failed download, with backoff.")
    pricing_base_url: str = Field(
        "https://pricing.us-east-1.amazonaws.com", description="AWS Price List Bulk API host."
    )
    pricing_ca_file: Path | None = Field(
        None, description="Extra CA bundle (PEM) for the Price List host, e.g. behind a TLS-inspecting proxy."
    )
    catalog_file: Path | None = Field(
        None,
        description="The local price catalog `pricing sync` writes and `estimate`/`run` read "
        "(default: $XDG_CACHE_HOME/cloudcostguard/aws-prices.json.gz, else ~/.cache/…).",
    )
    pricing_load_timeout: float = Field(
        3600.0,
        gt=0,
        description="Seconds one statement of `pricing load` may take (COPY of a file, the switch).",
    )

    # --- plan sources (operator) -------------------------------------------------------------
    url_timeout: float = Field(10.0, gt=0, description="Seconds to fetch a plan from spec.plan.url.")
    url_max_bytes: int = Field(20 * MiB, gt=0, description="Largest plan fetched from a URL, in bytes.")
    url_allow_private: bool = Field(
        False,
        description="Allow spec.plan.url to reach private, loopback and link-local addresses (cloud "
        "metadata addresses stay refused).",
    )
    url_ca_file: Path | None = Field(None, description="Extra CA bundle for spec.plan.url (PEM).")
    url_allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs spec.plan.url may reach although private (e.g. an in-cluster artifact store); "
        "cloud metadata addresses stay refused.",
    )
    url_max_concurrency: int = Field(16, ge=1, description="URL fetches at once, all namespaces together.")
    url_max_concurrency_per_namespace: int = Field(
        4, ge=1, description="URL fetches at once for the CostEstimates of one namespace."
    )
    url_rate_per_namespace: float = Field(
        2.0, gt=0, description="URL fetches per second one namespace may start (token bucket refill)."
    )
    url_burst_per_namespace: int = Field(
        20, ge=1, description="URL fetches one namespace may start at once before its rate applies."
    )

    # --- reconciliation (operator) -------------------------------------------------------------
    resync_interval: float = Field(
        300.0,
        gt=0,
        description="Seconds between re-checks of an unchanged CostEstimate (re-fetches spec.plan.url).",
    )
    retry_delay: float = Field(
        5.0, gt=0, description="Seconds before the first retry after a transient failure (doubles after)."
    )
    retry_max_delay: float = Field(300.0, gt=0, description="Longest wait between retries, in seconds.")
    reconcile_max_concurrency: int = Field(
        16, ge=1, description="CostEstimates reconciled at once (reading, fetching and pricing plans)."
    )
    reconcile_max_concurrency_per_namespace: int = Field(
        4, ge=1, description="CostEstimates of one namespace reconciled at once; others take turns."
    )
    throttle_max_wait: float = Field(
        30.0,
        gt=0,
        description="Seconds a reconcile or URL fetch waits for a per-namespace limit before the object "
        "reports Ready=False reason Throttled and retries.",
    )
    pending_status_after: float = Field(
        0.5,
        ge=0,
        description="Seconds a new CostEstimate's first estimate may take before a Pending status "
        "(Reconciling=True: kstatus InProgress) is written while it finishes; 0: always, before estimating.",
    )
    policy_status_interval: float = Field(
        60.0, gt=0, description="Seconds between CostPolicy status refreshes when no spend changed."
    )

    # --- replicas (operator) -------------------------------------------------------------------
    leader_election: bool = Field(
        True,
        description="Replicas elect the one that writes statuses and Events through a coordination.k8s.io "
        "Lease; every replica keeps watching and serves the webhook (false, or `run --standalone`: no "
        "Lease, this process writes).",
    )
    leader_election_lease_name: str = Field(
        "cloudcostguard-leader",
        min_length=1,
        description="Name of the Lease, in CCG_OPERATOR_NAMESPACE (else the pod's or kubeconfig's).",
    )
    leader_election_lease_duration: int = Field(
        15,
        ge=1,
        description="Seconds a standby waits, after it last saw the Lease renewed, before taking it over.",
    )
    leader_election_renew_deadline: float = Field(
        10.0,
        gt=0,
        description="Seconds the leader keeps writing without a successful renewal (below the duration).",
    )
    leader_election_retry_period: float = Field(
        2.0,
        gt=0,
        description="Seconds between Lease renewals by the leader and attempts by standbys.",
    )

    # --- process ------------------------------------------------------------------------------
    metrics_listen: str = Field("0.0.0.0:8080", description="HOST:PORT of /metrics.")
    metrics_secure: bool = Field(
        True,
        description="Serve /metrics over HTTPS, only to bearer tokens the API server authenticates "
        "(TokenReview) and allows `get` on the non-resource URL /metrics (SubjectAccessReview); false: plain "
        "HTTP to anyone who reaches the port.",
    )
    metrics_cert_file: Path | None = Field(
        None, description="TLS certificate (PEM) of /metrics (default: a generated self-signed one)."
    )
    metrics_key_file: Path | None = Field(None, description="TLS key (PEM) of /metrics.")
    metrics_auth_timeout: float = Field(
        5.0,
        gt=0,
        description="Seconds to check one scraper's token with the API server (TokenReview and "
        "SubjectAccessReview together); past it the scrape gets 503.",
    )
    metrics_auth_cache_ttl: float = Field(
        30.0,
        ge=0,
        le=300,
        description="Seconds a token's allow/deny decision is reused, keyed by the token's SHA-256 "
        "(0: ask the API server on every scrape).",
    )
    health_listen: str = Field("0.0.0.0:8081", description="HOST:PORT of /healthz and /readyz.")
    webhook_listen: str = Field("0.0.0.0:9443", description="HOST:PORT of the admission webhook (HTTPS).")
    webhook_cert_file: Path | None = Field(None, description="TLS certificate (PEM) of the webhook.")
    webhook_key_file: Path | None = Field(None, description="TLS key (PEM) of the webhook.")
    webhook_host: str | None = Field(
        None, description="Host name put in a generated self-signed certificate (default: localhost)."
    )
    webhook_max_review_bytes: int = Field(
        8 * MiB, gt=0, description="Largest AdmissionReview body accepted, in bytes."
    )
    webhook_max_plan_bytes: int = Field(
        8 * MiB,
        gt=0,
        description="Largest plan the webhook estimates (after gunzip); bigger ones count as unreadable.",
    )
    webhook_inline_max_resources: int = Field(
        500,
        ge=0,
        description="Plans with more resource changes are estimated in a worker thread, off the event loop.",
    )
    webhook_workers: int = Field(
        2, ge=1, description="Worker threads estimating large plans for the webhook."
    )
    webhook_decision_timeout: float = Field(
        8.0,
        gt=0,
        description="Seconds a webhook estimate may take before the plan counts as not estimable.",
    )
    webhook_max_in_flight: int = Field(
        32,
        ge=1,
        description="Reviews in flight at once (body being read, or being decided); more are answered "
        "HTTP 429 at once, and the webhook's failurePolicy applies.",
    )
    webhook_read_timeout: float = Field(
        5.0,
        gt=0,
        description="Seconds a webhook client has for the TLS handshake, and for a request body once its "
        "headers are in.",
    )
    webhook_idle_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a webhook connection may wait for its next complete request head (idle "
        "keep-alive, or headers still arriving) before it is closed.",
    )
    webhook_client_ca_file: Path | None = Field(
        None,
        description="CA (PEM) of the API server's client certificate: with it, webhook connections "
        "without a certificate it signed are refused at the TLS handshake.",
    )
    webhook_fast_path: bool = Field(
        True,
        description="Answer the webhook paths with the lean in-process handler (false: kopf's machinery).",
    )
    webhook_cert_dir: Path | None = Field(
        None,
        description="Where a generated self-signed CA and certificate are written (default: a temp dir).",
    )
    log_format: Literal["json", "text"] = Field("json", description="Log line format.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    operator_namespace: str | None = Field(
        None, description="Namespace the operator runs in (excluded from admission)."
    )

    @field_validator("url_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as err:
                raise ValueError(f"{item!r} is not a CIDR") from err
        return value


def load_settings(**overrides: Any) -> Settings:
    """Read the environment (and explicit overrides from flags); fail fast naming the variable."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**clean)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "?"
        raise errors.ConfigurationError(f"invalid setting CCG_{field.upper()}: {first['msg']}") from err


def listen_address(listen: str, setting: str) -> tuple[str | None, int]:
    """``HOST:PORT`` of a ``*_listen`` setting as (host, port): ``[::1]:9443`` for IPv6; an empty host is
    None (every interface); port 0 asks for any free port. A bad value names the setting's variable."""
    host, separator, port_text = listen.rpartition(":")
    if not separator or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        raise errors.ConfigurationError(f"invalid setting CCG_{setting.upper()}: {listen!r} is not HOST:PORT")
    return host.strip("[]") or None, int(port_text)
