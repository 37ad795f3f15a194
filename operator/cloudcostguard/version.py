"""The package version, in its own module: metrics and the CLI read it without importing the public API."""

__version__ = "0.1.0"
