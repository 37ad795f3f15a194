"""Prices: the ``PriceCatalog`` the estimator asks, its in-memory implementation and the bundled snapshot."""

from cloudcostguard.pricing.catalog import InMemoryCatalog, Price, PriceCatalog, PriceRecord, PriceTier
from cloudcostguard.pricing.snapshot import load_bundled_catalog

__all__ = ["InMemoryCatalog", "Price", "PriceCatalog", "PriceRecord", "PriceTier", "load_bundled_catalog"]
