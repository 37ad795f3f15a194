"""AWS Price List offer files, without any database: finding, downloading and reading them.

- ``download``: resolves and downloads regional offer files from the AWS Price List Bulk API.
- ``source``: opens an offer file (plain or gzip) and hashes what is read.
- ``offer_json`` / ``offer_csv``: streaming readers of the JSON and CSV formats.
- ``model``: the rows they yield and the selection (services, regions) that filters them.
- ``locations``: region codes for offer-file products (``regionCode`` or the older display names).

``pricing.store.bulk_load`` writes what these readers yield into PostgreSQL.
"""
