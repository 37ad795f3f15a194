"""AWS pricers, one module per service family; each registers itself with ``@pricer``."""
