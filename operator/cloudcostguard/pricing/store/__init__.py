"""The PostgreSQL pricing store: versioned AWS prices and the catalog provider that follows them.

Layout:
- ``pool``: asyncpg connections and pools configured from ``Settings``; database errors become ours.
- ``migrate`` + ``migrations/*.sql``: the versioned schema.
- ``store``: pricing versions (create, switch current, prune), status and catalog queries.
- ``bulk_load``: bulk-loads offer files (read by ``pricing.offers``) into a new version with COPY and
  switches current.
- ``catalog_blob``: each version's compiled catalog (the cache file's form), stored by the load in
  its switch, read by the readers below instead of the rows (which remain the fallback).
- ``postgres_provider``: the in-process catalog that follows the current version (LISTEN/NOTIFY + interval).
- ``one_shot_catalog``: a one-shot synchronous catalog load for the CLI (``estimate --database-url``).

Nothing here is imported by the estimator: it only sees the ``PriceCatalog`` this package builds.
"""
