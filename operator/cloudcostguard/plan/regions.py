"""Which AWS region each resource lives in, from ``configuration.provider_config``.

Terraform writes the provider a resource uses as ``provider_config_key`` in ``configuration``: ``aws``,
``aws.west`` (an alias), ``module.net:aws`` (a provider declared in a child module; older Terraform
writes ``net:aws``). A module without its own provider block inherits its parent's, so an unknown
module key falls back to the parent module's key and finally to the root ``aws``.
"""

from __future__ import annotations

import re
from typing import Any

_INDEX = re.compile(r"\[[^\]]*\]")


def config_address(module_address: str | None, resource_type: str, name: str) -> str:
    """``module.a["x"].module.b[0]`` + ``aws_instance.web`` → ``module.a.module.b.aws_instance.web``."""
    prefix = _INDEX.sub("", module_address) + "." if module_address else ""
    return f"{prefix}{resource_type}.{name}"


def _constant_region(provider: Any, variables: dict[str, Any]) -> str | None:
    if not isinstance(provider, dict):
        return None
    expressions = provider.get("expressions")
    if not isinstance(expressions, dict):
        return None
    region = expressions.get("region")
    if not isinstance(region, dict):
        return None
    constant = region.get("constant_value")
    if isinstance(constant, str) and constant:
        return constant
    references = region.get("references")
    if isinstance(references, list):
        for reference in references:
            if isinstance(reference, str) and reference.startswith("var."):
                variable = variables.get(reference[4:])
                if isinstance(variable, dict) and isinstance(variable.get("value"), str):
                    return str(variable["value"])
    return None


class RegionResolver:
    """Maps a resource's configuration address to its provider's region."""

    def __init__(self, plan: dict[str, Any], default_region: str) -> None:
        self.default_region = default_region
        configuration = plan.get("configuration")
        if not isinstance(configuration, dict):
            configuration = {}
        variables = plan.get("variables")
        if not isinstance(variables, dict):
            variables = {}
        self._provider_regions: dict[str, str] = {}
        provider_config = configuration.get("provider_config")
        if isinstance(provider_config, dict):
            for key, provider in provider_config.items():
                region = _constant_region(provider, variables)
                if region is not None:
                    self._provider_regions[str(key)] = region
        self._resource_keys: dict[str, str] = {}
        root = configuration.get("root_module")
        if isinstance(root, dict):
            self._walk_module(root, "", 0)

    def _walk_module(self, module: dict[str, Any], prefix: str, depth: int) -> None:
        if depth > 64:  # Terraform itself refuses far shallower module trees; this bounds hostile input.
            return
        resources = module.get("resources")
        if isinstance(resources, list):
            for resource in resources:
                if not isinstance(resource, dict):
                    continue
                address, key = resource.get("address"), resource.get("provider_config_key")
                if isinstance(address, str) and isinstance(key, str):
                    self._resource_keys[prefix + address] = key
        calls = module.get("module_calls")
        if isinstance(calls, dict):
            for call_name, call in calls.items():
                if isinstance(call, dict) and isinstance(call.get("module"), dict):
                    self._walk_module(call["module"], f"{prefix}module.{call_name}.", depth + 1)

    def provider_region(self, module_address: str | None, resource_type: str, name: str) -> str:
        key = self._resource_keys.get(config_address(module_address, resource_type, name))
        if key is None:
            # Not in configuration (older plans, or trimmed plans): the module's own aws provider, or root.
            key = f"{_INDEX.sub('', module_address)}:aws" if module_address else "aws"
        return self._region_for_key(key)

    def _region_for_key(self, key: str) -> str:
        seen = 0
        while seen < 64:
            seen += 1
            region = self._provider_regions.get(key)
            if region is not None:
                return region
            module, sep, provider = key.rpartition(":")
            if not sep:
                break
            # "module.a.module.b:aws" → "module.a:aws" → "aws"; "net:aws" (old style) → "aws".
            parent, dot, _ = module.rpartition(".module.")
            key = f"{parent}:{provider}" if dot else provider
        return self.default_region


_AZ = re.compile(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d)[a-z]$")


def region_from_availability_zone(zone: object) -> str | None:
    """``us-west-2a`` → ``us-west-2``; anything else (a zone id, a Local Zone, unknown) → None."""
    if isinstance(zone, str):
        match = _AZ.match(zone)
        if match:
            return match.group(1)
    return None
