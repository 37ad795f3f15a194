"""The PostgreSQL pricing store: versioned AWS prices, offer-file ingestion, and the catalog provider.

Layout:
- ``pool``: asyncpg connections and pools configured from ``Settings``; database errors become ours.
- ``migrate`` + ``migrations/*.sql``: the versioned schema.
- ``store``: pricing versions (create, switch current, prune), status and catalog queries.
- ``ingest``: streaming readers of AWS Price List offer files (JSON, CSV, plain or gzip).
- ``load``: bulk-loads offer files into a new version with COPY and switches current.
- ``download``: resolves and downloads regional offer files from the AWS Price List Bulk API.
- ``provider``: the in-process catalog that follows the current version (LISTEN/NOTIFY + interval).
- ``loader``: a one-shot synchronous catalog load for the CLI (``estimate --database-url``).

Nothing here is imported by the estimator: it only sees the ``PriceCatalog`` this package builds.
"""
