"""Which AWS region each resource lives in, from ``configuration`` in the plan.

Terraform names the provider configuration a resource uses with a *provider config key*:
``aws``, ``aws.west`` (an alias), ``module.net:aws`` (a provider block inside a child module). Terraform
≥ 1.1 (and OpenTofu) normalise keys: a resource in a module that inherits its parent's provider, or is
passed one with ``providers = { aws = aws.west }``, carries the parent's key (``aws``, ``aws.west``)
and the module-level entry is dropped from ``provider_config``. Older Terraform wrote the module part as
the bare call name (``net:aws``) and left inherited providers as module keys without a region. So a key
that resolves to no region walks up: ``module.a.module.b:aws`` → ``module.a:aws`` → ``aws`` → the
configured default region.

A provider's ``region`` may be a constant or a reference to a variable: ``var.region`` in the root module
is read from the plan's ``variables``; in a child module it is the module call's argument (a constant, or
a reference to the parent's variable, followed up the tree), else the variable's default.
"""

from __future__ import annotations

import re
from typing import Any

_INDEX = re.compile(r"\[[^\]]*\]")
_MAX_MODULE_DEPTH = 64  # Terraform configurations are far shallower; this bounds hostile input.


def config_address(module_address: str | None, resource_type: str, name: str) -> str:
    """``module.a["x"].module.b[0]`` + ``aws_instance.web`` → ``module.a.module.b.aws_instance.web``."""
    prefix = strip_indexes(module_address) + "." if module_address else ""
    return f"{prefix}{resource_type}.{name}"


def strip_indexes(module_address: str) -> str:
    """``module.a["x"].module.b[0]`` → ``module.a.module.b`` (configuration addresses have no instances)."""
    return _INDEX.sub("", module_address) if "[" in module_address else module_address


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class _Module:
    """What region resolution needs from one module of ``configuration``."""

    __slots__ = ("call_expressions", "parent", "variable_defaults")

    def __init__(
        self, parent: _Module | None, call_expressions: dict[str, Any], variable_defaults: dict[str, Any]
    ) -> None:
        self.parent = parent
        self.call_expressions = call_expressions
        self.variable_defaults = variable_defaults


class RegionResolver:
    """Maps a resource (module address, type, name) to its provider configuration's region."""

    def __init__(self, plan: dict[str, Any], default_region: str) -> None:
        self.default_region = default_region
        configuration = _as_dict(plan.get("configuration"))
        self._root_variables = _as_dict(plan.get("variables"))
        self._modules: dict[str, _Module] = {}
        self._resource_keys: dict[str, str] = {}
        root = configuration.get("root_module")
        if isinstance(root, dict):
            self._walk_module(root, "", None, {}, 0)
        self._provider_regions: dict[str, str] = {}
        for key, provider in _as_dict(configuration.get("provider_config")).items():
            if not isinstance(provider, dict):
                continue
            module_address = provider.get("module_address")
            if not isinstance(module_address, str):
                module_address = key.rpartition(":")[0] if ":" in key else ""
            if module_address and not module_address.startswith("module."):
                module_address = f"module.{module_address}"  # old style "net:aws"
            region = self._provider_region(provider, module_address)
            if region is not None:
                self._provider_regions[str(key)] = region
        self._cache: dict[tuple[str | None, str, str], str] = {}
        self._module_paths: dict[str, str] = {}
        self._key_regions: dict[str, str] = {}

    def _walk_module(
        self,
        module: dict[str, Any],
        path: str,
        parent: _Module | None,
        call_expressions: dict[str, Any],
        depth: int,
    ) -> None:
        if depth > _MAX_MODULE_DEPTH:
            return
        defaults: dict[str, Any] = {}
        for name, variable in _as_dict(module.get("variables")).items():
            if isinstance(variable, dict) and "default" in variable:
                defaults[name] = variable["default"]
        this = _Module(parent, call_expressions, defaults)
        self._modules[path] = this
        prefix = f"{path}." if path else ""
        resources = module.get("resources")
        if isinstance(resources, list):
            for resource in resources:
                if not isinstance(resource, dict):
                    continue
                address = resource.get("address")
                key = resource.get("provider_config_key")
                if not isinstance(key, str):
                    # OpenTofu writes a list when a resource's provider is chosen per instance
                    # (provider for_each); the instances cannot be told apart here, take the first.
                    keys = resource.get("provider_config_keys")
                    key = keys[0] if isinstance(keys, list) and keys and isinstance(keys[0], str) else None
                if isinstance(address, str) and key is not None:
                    self._resource_keys[prefix + address] = key
        for call_name, call in _as_dict(module.get("module_calls")).items():
            if isinstance(call, dict) and isinstance(call.get("module"), dict):
                self._walk_module(
                    call["module"],
                    f"{prefix}module.{call_name}",
                    this,
                    _as_dict(call.get("expressions")),
                    depth + 1,
                )

    # --- provider regions ------------------------------------------------------------------------

    def _provider_region(self, provider: dict[str, Any], module_address: str) -> str | None:
        region = _as_dict(provider.get("expressions")).get("region")
        if not isinstance(region, dict):
            return None
        return self._expression_value(region, strip_indexes(module_address), 0)

    def _expression_value(self, expression: dict[str, Any], module_path: str, depth: int) -> str | None:
        """A constant string, or a ``var.x`` reference followed through module calls to a constant."""
        constant = expression.get("constant_value")
        if isinstance(constant, str):
            return constant or None
        references = expression.get("references")
        if not isinstance(references, list) or depth > _MAX_MODULE_DEPTH:
            return None
        for reference in references:
            if isinstance(reference, str) and reference.startswith("var."):
                value = self._variable_value(reference[4:], module_path, depth)
                if value is not None:
                    return value
        return None

    def _variable_value(self, name: str, module_path: str, depth: int) -> str | None:
        if not module_path:
            variable = self._root_variables.get(name)
            value = variable.get("value") if isinstance(variable, dict) else None
            return value if isinstance(value, str) and value else None
        module = self._modules.get(module_path)
        if module is None:
            return None
        argument = module.call_expressions.get(name)
        if isinstance(argument, dict):
            parent_path = module_path.rpartition(".module.")[0] if ".module." in module_path else ""
            value = self._expression_value(argument, parent_path, depth + 1)
            if value is not None:
                return value
        default = module.variable_defaults.get(name)
        return default if isinstance(default, str) and default else None

    # --- resources ---------------------------------------------------------------------------------

    def provider_region(self, module_address: str | None, resource_type: str, name: str) -> str:
        # Called once per resource: memoised at three levels (resource, module path, provider key).
        cache_key = (module_address, resource_type, name)
        region = self._cache.get(cache_key)
        if region is not None:
            return region
        if module_address:
            module_path = self._module_paths.get(module_address)
            if module_path is None:
                module_path = self._module_paths[module_address] = strip_indexes(module_address)
            key = self._resource_keys.get(f"{module_path}.{resource_type}.{name}")
        else:
            module_path = ""
            key = self._resource_keys.get(f"{resource_type}.{name}")
        if key is None:
            # Not in configuration (older or trimmed plans): the module's own provider, else its parents'.
            provider = resource_type.split("_", 1)[0]
            key = f"{module_path}:{provider}" if module_path else provider
        elif module_path and key not in self._provider_regions:
            module_part, sep, provider_name = key.rpartition(":")
            if sep and not module_part.startswith("module."):
                # Old style "net:aws": the module part is the call name; use the resource's module path.
                key = f"{module_path}:{provider_name}"
        region = self._key_regions.get(key)
        if region is None:
            region = self._key_regions[key] = self._region_for_key(key)
        self._cache[cache_key] = region
        return region

    def _region_for_key(self, key: str) -> str:
        for _ in range(_MAX_MODULE_DEPTH + 2):
            region = self._provider_regions.get(key)
            if region is not None:
                return region
            module, sep, provider = key.rpartition(":")
            if not sep:
                break
            # "module.a.module.b:aws" → "module.a:aws" → "aws".
            parent, dot, _ = module.rpartition(".module.")
            key = f"{parent}:{provider}" if dot else provider
        return self.default_region


_AZ = re.compile(r"^([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+)[a-z]$")


_ZONE_REGIONS: dict[str, str | None] = {}
_ZONE_CACHE_LIMIT = 4096  # AWS has a few hundred zones; the bound keeps hostile plans from growing it


def region_from_availability_zone(zone: object) -> str | None:
    """``us-west-2a`` → ``us-west-2``; anything else (a zone id, a Local Zone, unknown) → None."""
    if not isinstance(zone, str):
        return None
    try:
        return _ZONE_REGIONS[zone]
    except KeyError:
        pass
    match = _AZ.match(zone)
    region = match.group(1) if match else None
    if len(_ZONE_REGIONS) < _ZONE_CACHE_LIMIT:
        _ZONE_REGIONS[zone] = region
    return region
