"""Benchmark: price a large, realistic Terraform plan, against parsing the same bytes as the floor.

Generates (deterministically) a 5,000-resource plan: a mix of resource types (instances with root and
EBS block devices, volumes, databases, load balancers, functions, tables...), free types (security
groups, IAM), an unsupported type and data sources; spread over the root module, modules with
``count``/``for_each``, a module with its own provider and an aliased provider; with creates, updates,
replaces in both orders, deletes and no-ops. Two mixes (``--mix``):

- ``full`` (default): every priced type registered when it runs (about 80). The original types keep
  their weights and hand-written attributes; each other priced type has weight 1 and attribute sets
  taken from the Terraform-planned fixtures (``tests/fixtures/**/plan.json``: what the AWS provider
  really writes for that type), so about a third of the resources are of the types added since;
- ``original``: the 22 types of the original mix only (20 priced before issue 10, plus SNS topics and
  Kinesis streams, unsupported then), as earlier rows of BENCHMARKS.md measured.

``--compare-mixes`` times both plans in the same interleaved turns and prints each ratio to its own
floor and how much the ratio grew from the original mix to the full one (issue 10: at most 10%).

Two layouts (``--shape``): ``terraform`` (default) is what ``terraform show -json`` writes: besides
``resource_changes``, ``planned_values`` and ``prior_state`` repeat the resources' values, the
configuration holds every resource's ``expressions`` (literals, and the references the type's fixture
configuration makes) and ``after_unknown`` the provider's computed attributes (each type's fixture
markers). The references name the fixtures' addresses: they cost what real ones cost to index and
change no price, except where a pricer counts them (a VPC endpoint's referenced subnets). Its
sections' shares of the bytes fall within the Terraform-planned fixtures' (2.7 KB per resource; the
fixtures' median is 2.9 KB). ``changes`` is the earlier, leaner plan (1.0 KB per resource:
``resource_changes`` and a bare configuration only), which earlier rows of BENCHMARKS.md measured: the
same resources, priced alike, under a floor of under half the bytes.

Then reports, in one run:
- the median time of ``cloudcostguard.estimate(plan_bytes)`` and of ``orjson.loads(plan_bytes)`` on
  the same bytes under the same collector setting (paused, document freed), at 500, 5,000 and
  50,000 resources, and their ratio (must ≤ 3×, aim ≤ 2×), with an empty memo, with usage, with the
  memo warm from the same plan, and with a memo warmed by other plans of the mix only (``by_size``);
  per type, µs per resource of a plan of 1,000 resources of that one type;
- the peak memory (max RSS) of ``cloudcostguard estimate FILE --format json`` as a subprocess, with the
  peak of a bare ``python -c 'orjson.loads(...)'`` on the same file as the same-run baseline.

    .venv/bin/python benchmarks/estimate_large_plan.py [--mix full|original] [--compare-mixes]
        [--shape terraform|changes] [--sizes N ...] [--repeat N] [--per-type N] [--profile]
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import functools
import gc
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

import cloudcostguard
from cloudcostguard.estimation import memo
from cloudcostguard.estimation.registry import PRICERS, load_all_pricers
from cloudcostguard.estimation.usage import Usage
from cloudcostguard.plan import decoder as _typed_plan_decoder  # noqa: F401 - as the operator loads it
from cloudcostguard.pricing.catalog import InMemoryCatalog
from cloudcostguard.pricing.snapshot import load_bundled_catalog

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SEED = 20261125
# Every pricer module registered, so the plan can use every registered type.
load_all_pricers()
AZS = ("us-east-1a", "us-east-1b", "us-east-1c")
WARM_UP_ESTIMATES = memo.RECORD_AFTER + 1  # by then even a type with one side in the plan is recorded
# "warm, other plans": the memo warmed by plans of the same mix under other seeds (other resources,
# names and shapes drawn from the same choices), each estimated twice, never by the measured plan.
OTHER_PLANS = 3
# Plans of 50,000 resources laid out as Terraform does are ~110 MB, past the 50 MiB default limit
# (CCG_MAX_PLAN_BYTES): the benchmark lifts it, as an operator of such plans would.
estimate_any_size = functools.partial(cloudcostguard.estimate, max_plan_bytes=1 << 30)

# --- realistic attribute sets, as the AWS provider writes them in `after` ---------------------------


def _tags(rng: random.Random, name: str) -> dict[str, str]:
    return {"Name": name, "team": rng.choice(("payments", "search", "platform", "data"))}


def _instance(rng: random.Random, name: str) -> dict[str, Any]:
    volume_type = rng.choice(("gp2", "gp3", "gp3", "io1"))
    root: dict[str, Any] = {
        "delete_on_termination": True,
        "encrypted": True,
        "volume_size": rng.choice((8, 20, 50, 100)),
        "volume_type": volume_type,
        "iops": 3000 if volume_type == "gp3" else (1000 if volume_type == "io1" else None),
        "throughput": 125 if volume_type == "gp3" else None,
        "tags": None,
    }
    ebs = [
        {
            "device_name": f"/dev/sd{chr(102 + i)}",
            "delete_on_termination": True,
            "encrypted": True,
            "volume_size": rng.choice((50, 100, 500)),
            "volume_type": rng.choice(("gp3", "st1", "sc1", "io2")),
            "iops": rng.choice((None, 3000, 4000)),
            "throughput": None,
            "snapshot_id": None,
            "tags": None,
        }
        for i in range(rng.choice((0, 0, 0, 1, 2)))
    ]
    return {
        "ami": f"ami-0{rng.getrandbits(60):015x}",
        "associate_public_ip_address": False,
        "availability_zone": rng.choice(AZS),
        "credit_specification": [],
        "disable_api_termination": False,
        "ebs_block_device": ebs,
        "ebs_optimized": rng.random() < 0.2,
        "get_password_data": False,
        "hibernation": None,
        "iam_instance_profile": f"{name}-profile",
        "instance_type": rng.choice(
            ("t3.micro", "t3.medium", "m5.large", "m5.xlarge", "c5.large", "r5.large")
        ),
        "key_name": "deployer",
        "launch_template": [],
        "monitoring": rng.random() < 0.3,
        "root_block_device": [root],
        "source_dest_check": True,
        "subnet_id": f"subnet-0{rng.getrandbits(52):013x}",
        "tags": _tags(rng, name),
        "tenancy": "default",
        "volume_tags": None,
        "vpc_security_group_ids": ["sg-0123456789abcdef0"],
    }


def _ebs_volume(rng: random.Random, name: str) -> dict[str, Any]:
    kind = rng.choice(("gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"))
    return {
        "availability_zone": rng.choice(AZS),
        "encrypted": True,
        "final_snapshot": False,
        "iops": rng.choice((3000, 6000)) if kind in ("gp3", "io1", "io2") else None,
        "multi_attach_enabled": False,
        "size": rng.choice((20, 100, 500, 1000)),
        "snapshot_id": None,
        "tags": _tags(rng, name),
        "throughput": 250 if kind == "gp3" else None,
        "type": kind,
    }


def _db_instance(rng: random.Random, name: str) -> dict[str, Any]:
    engine = rng.choice(("mysql", "postgres", "postgres", "mariadb"))
    return {
        "allocated_storage": rng.choice((20, 100, 500)),
        "backup_retention_period": 7,
        "db_subnet_group_name": "main",
        "deletion_protection": True,
        "engine": engine,
        "engine_version": "16.3" if engine == "postgres" else "8.0",
        "identifier": name,
        "instance_class": rng.choice(("db.t3.micro", "db.t3.medium", "db.m5.large", "db.r5.large")),
        "iops": None,
        "multi_az": rng.random() < 0.4,
        "performance_insights_enabled": False,
        "publicly_accessible": False,
        "skip_final_snapshot": False,
        "storage_encrypted": True,
        "storage_type": rng.choice(("gp2", "gp3", "io1")),
        "tags": _tags(rng, name),
        "username": "admin",
    }


def _load_balancer(rng: random.Random, name: str) -> dict[str, Any]:
    return {
        "drop_invalid_header_fields": False,
        "enable_deletion_protection": True,
        "idle_timeout": 60,
        "internal": rng.random() < 0.5,
        "ip_address_type": "ipv4",
        "load_balancer_type": rng.choice(("application", "network")),
        "name": name[:32],
        "subnets": [f"subnet-0{rng.getrandbits(52):013x}" for _ in range(3)],
        "tags": _tags(rng, name),
    }


def _lambda(rng: random.Random, name: str) -> dict[str, Any]:
    return {
        "architectures": [rng.choice(("x86_64", "arm64"))],
        "function_name": name,
        "handler": "main.handler",
        "memory_size": rng.choice((128, 512, 1024, 2048)),
        "package_type": "Zip",
        "publish": False,
        "runtime": "python3.12",
        "ephemeral_storage": [{"size": 512}],
        "tags": _tags(rng, name),
        "timeout": 30,
        "tracing_config": [{"mode": "PassThrough"}],
    }


def _dynamodb(rng: random.Random, name: str) -> dict[str, Any]:
    provisioned = rng.random() < 0.5
    return {
        "attribute": [{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
        "billing_mode": "PROVISIONED" if provisioned else "PAY_PER_REQUEST",
        "hash_key": "pk",
        "name": name,
        "point_in_time_recovery": [{"enabled": rng.random() < 0.5}],
        "range_key": "sk",
        "read_capacity": rng.choice((5, 50, 500)) if provisioned else 0,
        "replica": [],
        "table_class": "STANDARD",
        "tags": _tags(rng, name),
        "write_capacity": rng.choice((5, 50, 500)) if provisioned else 0,
    }


def _generic(rng: random.Random, name: str) -> dict[str, Any]:
    return {"name": name, "tags": _tags(rng, name), "description": f"{name} managed by terraform"}


TEMPLATES: dict[str, Callable[[random.Random, str], dict[str, Any]]] = {
    "aws_instance": _instance,
    "aws_ebs_volume": _ebs_volume,
    "aws_db_instance": _db_instance,
    "aws_lb": _load_balancer,
    "aws_alb": _load_balancer,
    "aws_lambda_function": _lambda,
    "aws_dynamodb_table": _dynamodb,
    "aws_nat_gateway": lambda rng, name: {
        "allocation_id": f"eipalloc-0{rng.getrandbits(52):013x}",
        "connectivity_type": "public",
        "subnet_id": f"subnet-0{rng.getrandbits(52):013x}",
        "tags": _tags(rng, name),
    },
    "aws_elb": lambda rng, name: {
        "availability_zones": list(AZS),
        "cross_zone_load_balancing": True,
        "listener": [
            {"instance_port": 80, "instance_protocol": "http", "lb_port": 80, "lb_protocol": "http"}
        ],
        "name": name[:32],
        "tags": _tags(rng, name),
    },
    "aws_eip": lambda rng, name: {"domain": "vpc", "instance": None, "tags": _tags(rng, name)},
    "aws_s3_bucket": lambda rng, name: {"bucket": name, "force_destroy": False, "tags": _tags(rng, name)},
    "aws_cloudwatch_log_group": lambda rng, name: {
        "log_group_class": "STANDARD",
        "name": f"/aws/{name}",
        "retention_in_days": rng.choice((7, 30, 365)),
        "tags": _tags(rng, name),
    },
    "aws_sqs_queue": lambda rng, name: {
        "fifo_queue": rng.random() < 0.2,
        "message_retention_seconds": 345600,
        "name": name,
        "tags": _tags(rng, name),
        "visibility_timeout_seconds": 30,
    },
    "aws_elasticache_cluster": lambda rng, name: {
        "cluster_id": name[:40],
        "engine": rng.choice(("redis", "memcached")),
        "node_type": rng.choice(("cache.t3.micro", "cache.m5.large", "cache.r5.4xlarge")),
        "num_cache_nodes": rng.choice((1, 2, 3)),
        "snapshot_retention_limit": rng.choice((0, 5)),
        "tags": _tags(rng, name),
    },
    "aws_elasticache_replication_group": lambda rng, name: {
        "description": name,
        "engine": "redis",
        "node_type": rng.choice(("cache.t3.small", "cache.m5.large")),
        "num_cache_clusters": rng.choice((2, 3)),
        "replication_group_id": name[:40],
        "tags": _tags(rng, name),
    },
    "aws_efs_file_system": lambda rng, name: {
        "encrypted": True,
        "lifecycle_policy": [{"transition_to_ia": "AFTER_30_DAYS"}],
        "performance_mode": "generalPurpose",
        "throughput_mode": "bursting",
        "tags": _tags(rng, name),
    },
    "aws_eks_cluster": lambda rng, name: {
        "name": name,
        "role_arn": f"arn:aws:iam::123456789012:role/{name}",
        "version": rng.choice(("1.29", "1.31", "1.32")),
        "vpc_config": [{"endpoint_private_access": True, "subnet_ids": ["subnet-1", "subnet-2"]}],
        "tags": _tags(rng, name),
    },
    "aws_eks_node_group": lambda rng, name: {
        "ami_type": "AL2_x86_64",
        "capacity_type": "ON_DEMAND",
        "cluster_name": "main",
        "disk_size": 20,
        "instance_types": [rng.choice(("t3.medium", "m5.large"))],
        "node_group_name": name,
        "scaling_config": [{"desired_size": rng.choice((2, 3, 6)), "max_size": 10, "min_size": 1}],
        "tags": _tags(rng, name),
    },
    "aws_route53_zone": lambda rng, name: {"force_destroy": False, "name": f"{name}.example.com", "tags": {}},
    "aws_ebs_snapshot": lambda rng, name: {
        "volume_id": f"vol-0{rng.getrandbits(52):013x}",
        "tags": _tags(rng, name),
    },
    # free types
    "aws_security_group": lambda rng, name: {
        "description": "Managed by Terraform",
        "egress": [{"cidr_blocks": ["0.0.0.0/0"], "from_port": 0, "protocol": "-1", "to_port": 0}],
        "ingress": [{"cidr_blocks": ["10.0.0.0/8"], "from_port": 443, "protocol": "tcp", "to_port": 443}],
        "name": name,
        "tags": _tags(rng, name),
        "vpc_id": "vpc-0123456789abcdef0",
    },
    "aws_security_group_rule": lambda rng, name: {
        "cidr_blocks": ["10.0.0.0/8"],
        "from_port": 443,
        "protocol": "tcp",
        "to_port": 443,
        "type": "ingress",
    },
    "aws_iam_role": lambda rng, name: {
        "assume_role_policy": orjson.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
        ).decode(),
        "name": name,
        "tags": _tags(rng, name),
    },
    "aws_iam_role_policy_attachment": lambda rng, name: {
        "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "role": name,
    },
    "aws_subnet": lambda rng, name: {
        "availability_zone": rng.choice(AZS),
        "cidr_block": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.0/24",
        "tags": _tags(rng, name),
    },
    # unsupported in the original mix (priced since issue 10)
    "aws_sns_topic": lambda rng, name: {"name": name, "tags": _tags(rng, name)},
    "aws_kinesis_stream": lambda rng, name: {"name": name, "shard_count": 2, "tags": _tags(rng, name)},
    # unsupported: counted and listed, never silently zero
    "aws_sns_topic_subscription": lambda rng, name: {
        "protocol": "sqs",
        "raw_message_delivery": False,
        "topic_arn": f"arn:aws:sns:us-east-1:123456789012:{name}",
    },
    # priced, with no planned fixture to take attributes from
    "aws_spot_instance_request": lambda rng, name: {
        **_instance(rng, name),
        "spot_price": rng.choice(("0.05", "0.10")),
        "spot_type": "persistent",
        "wait_for_fulfillment": True,
    },
}

# (type, weight): roughly the mix of a large production estate.
MIX = {
    "aws_instance": 14,
    "aws_ebs_volume": 7,
    "aws_db_instance": 3,
    "aws_nat_gateway": 2,
    "aws_lb": 2,
    "aws_alb": 1,
    "aws_elb": 1,
    "aws_eip": 2,
    "aws_s3_bucket": 6,
    "aws_lambda_function": 6,
    "aws_dynamodb_table": 3,
    "aws_elasticache_cluster": 1,
    "aws_elasticache_replication_group": 1,
    "aws_cloudwatch_log_group": 6,
    "aws_sqs_queue": 3,
    "aws_efs_file_system": 1,
    "aws_eks_cluster": 1,
    "aws_eks_node_group": 1,
    "aws_route53_zone": 1,
    "aws_ebs_snapshot": 1,
    "aws_security_group": 6,
    "aws_security_group_rule": 8,
    "aws_iam_role": 5,
    "aws_iam_role_policy_attachment": 5,
    "aws_subnet": 3,
    "aws_sns_topic": 2,
    "aws_kinesis_stream": 1,
}

# The full mix: each priced type not in MIX, at this weight (MIX's weights sum to about 100).
FULL_MIX_WEIGHT = 1
# In the full mix, a few resources of a type no pricer knows (counted and listed as unsupported).
UNSUPPORTED_WEIGHT = 1
MIXES = ("full", "original")
SHAPES = ("terraform", "changes")


@functools.cache
def fixture_plans() -> tuple[dict[str, Any], ...]:
    """The Terraform-planned fixtures (``tests/fixtures/**/plan.json``), parsed once."""
    return tuple(orjson.loads(path.read_bytes()) for path in sorted(FIXTURES.glob("**/plan.json")))


@functools.cache
def fixture_attributes() -> dict[str, tuple[dict[str, Any], ...]]:
    """type → the ``after`` values of its created resources in the Terraform-planned fixtures."""
    found: dict[str, list[dict[str, Any]]] = {}
    for plan in fixture_plans():
        for change in plan.get("resource_changes", ()):
            after = change.get("change", {}).get("after")
            if change.get("mode") == "managed" and isinstance(after, dict) and after:
                found.setdefault(change["type"], []).append(after)
    return {resource_type: tuple(values) for resource_type, values in found.items()}


@functools.cache
def fixture_unknowns() -> dict[str, dict[str, Any]]:
    """type → the ``after_unknown`` of its first created resource in the Terraform-planned fixtures:
    the attributes the AWS provider computes at apply (ids, ARNs, endpoints, nested block ids)."""
    found: dict[str, dict[str, Any]] = {}
    for plan in fixture_plans():
        for change in plan.get("resource_changes", ()):
            unknown = change.get("change", {}).get("after_unknown")
            if change.get("mode") == "managed" and isinstance(unknown, dict) and unknown:
                found.setdefault(change["type"], unknown)
    return found


@functools.cache
def fixture_references() -> dict[str, dict[str, Any]]:
    """type → the expressions that refer to something (``references``), of its first configuration
    resource in the Terraform-planned fixtures: how real configurations wire a type to others. The
    targets are the fixtures' addresses, not the generated plan's: such references cost an index as
    real ones do, and change a price only where a pricer counts them (a VPC endpoint's subnets)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(module: dict[str, Any]) -> None:
        for resource in module.get("resources", ()):
            expressions = resource.get("expressions") or {}
            wired = {key: value for key, value in expressions.items() if _refers(value)}
            if resource.get("mode") == "managed" and wired:
                found.setdefault(resource["type"], wired)
        for call in module.get("module_calls", {}).values():
            walk(call.get("module", {}))

    for plan in fixture_plans():
        walk(plan.get("configuration", {}).get("root_module", {}))
    return found


def _refers(expression: Any) -> bool:
    if isinstance(expression, dict):
        return "references" in expression or any(_refers(value) for value in expression.values())
    return isinstance(expression, list) and any(_refers(value) for value in expression)


def after_unknown(resource_type: str, after: dict[str, Any]) -> dict[str, Any]:
    """What Terraform marks unknown for a created resource of the type: the fixture's computed
    attributes that ``after`` does not hold (a known value is never also unknown), else the usual
    three; nested markers inside blocks ``after`` holds are left out."""
    computed = fixture_unknowns().get(resource_type, _USUAL_UNKNOWN)
    return {key: marker for key, marker in computed.items() if key not in after}


_USUAL_UNKNOWN: dict[str, Any] = {"arn": True, "id": True, "tags_all": True}


def template(resource_type: str) -> Callable[[random.Random, str], dict[str, Any]]:
    """Hand-written attributes where MIX has them, else a planned fixture's, else generic ones."""
    if resource_type in TEMPLATES:
        return TEMPLATES[resource_type]
    samples = fixture_attributes().get(resource_type)
    if not samples:
        return _generic

    def from_fixture(rng: random.Random, name: str) -> dict[str, Any]:
        values = copy.deepcopy(rng.choice(samples))
        if "tags" in values or "tags_all" in values:
            values["tags"] = _tags(rng, name)
        return values

    return from_fixture


def mix_weights(mix: str) -> dict[str, int]:
    if mix == "original":
        return dict(MIX)
    if mix != "full":
        raise ValueError(f"unknown mix {mix!r}: one of {', '.join(MIXES)}")
    weights = dict(MIX)
    for resource_type in sorted(set(PRICERS) - set(MIX)):
        weights[resource_type] = FULL_MIX_WEIGHT
    weights["aws_sns_topic_subscription"] = UNSUPPORTED_WEIGHT
    return weights


MODULES = (
    # (module address or "", provider config key of its resources): most of the estate in the root
    # provider's region, some through an aliased provider and a module with its own provider.
    ("", "aws"),
    ("", "aws"),
    ("", "aws"),
    ("", "aws.west"),
    ("module.app[0]", "aws"),
    ("module.app[1]", "aws"),
    ('module.svc["checkout"]', "aws"),
    ('module.svc["search"]', "aws"),
    ("module.eu", "module.eu:aws"),
    ("module.platform.module.db", "aws"),
)


def _variant(rng: random.Random, resource_type: str, values: dict[str, Any]) -> dict[str, Any]:
    """The `before` of an update or replace: the same resource with something priced changed."""
    before = dict(values)
    for key, choices in (
        ("instance_type", ("t3.small", "m5.large", "c5.xlarge")),
        ("instance_class", ("db.t3.small", "db.m5.xlarge")),
        ("size", (10, 200)),
        ("allocated_storage", (50, 1000)),
        ("memory_size", (256, 3008)),
        ("node_type", ("cache.t3.medium", "cache.m5.large")),
    ):
        if key in before:
            before[key] = rng.choice(choices)
    before["tags"] = {**before.get("tags", {}), "revision": str(rng.randint(1, 9))}
    return before


def generate_plan(
    resources: int,
    seed: int = SEED,
    only_type: str | None = None,
    mix: str = "full",
    shape: str = "terraform",
) -> bytes:
    """The plan of ``mix``; with ``only_type``, every resource of that type (per-type figures).

    ``shape``: ``terraform`` is the layout ``terraform show -json`` writes: ``planned_values`` (every
    resource's planned values again), ``prior_state`` (the existing resources' state), each
    configuration resource's ``expressions``, the provider's computed attributes in ``after_unknown``
    (what the Terraform-planned fixtures hold; 21-35 % of their bytes are ``planned_values``).
    ``changes`` is the older benchmark plan: ``resource_changes`` and a bare configuration only.
    The same seed draws the same resources in both shapes."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    realistic = shape == "terraform"
    planned: list[tuple[str, dict[str, Any]]] = []  # (module address, planned_values resource)
    prior: list[tuple[str, dict[str, Any]]] = []  # (module address, prior_state resource)
    rng = random.Random(seed)
    table = mix_weights(mix)
    types = sorted(table)
    weights = [table[t] for t in types]
    templates = {t: template(t) for t in ([only_type] if only_type is not None else types)}
    changes: list[dict[str, Any]] = []
    config_resources: dict[str, list[dict[str, Any]]] = {}
    counters: dict[tuple[str, str], int] = {}
    for position in range(resources):
        resource_type = only_type if only_type is not None else rng.choices(types, weights)[0]
        module, provider_key = rng.choice(MODULES)
        name = f"{resource_type.removeprefix('aws_')}_{position % 37}"
        index = counters.get((module, f"{resource_type}.{name}"), 0)
        counters[(module, f"{resource_type}.{name}")] = index + 1
        address = f"{module + '.' if module else ''}{resource_type}.{name}[{index}]"
        values = templates[resource_type](rng, f"{name}-{position}")
        roll = rng.random()
        if roll < 0.70:
            actions, before, after = ["create"], None, values
        elif roll < 0.80:
            actions, before, after = ["update"], _variant(rng, resource_type, values), values
        elif roll < 0.83:
            actions, before, after = ["delete", "create"], _variant(rng, resource_type, values), values
        elif roll < 0.85:
            actions, before, after = ["create", "delete"], _variant(rng, resource_type, values), values
        elif roll < 0.95:
            actions, before, after = ["no-op"], values, values
        else:
            actions, before, after = ["delete"], values, None
        unknown: dict[str, Any] = {}
        if after is not None:
            unknown = after_unknown(resource_type, after) if realistic else dict(_USUAL_UNKNOWN)
        identity = {
            "address": address,
            "mode": "managed",
            "type": resource_type,
            "name": name,
            "index": index,
            "provider_name": "registry.terraform.io/hashicorp/aws",
        }
        item: dict[str, Any] = {
            **identity,
            "change": {
                "actions": actions,
                "before": before,
                "after": after,
                "after_unknown": unknown,
                "before_sensitive": {} if before is not None else False,
                "after_sensitive": {} if after is not None else False,
            },
        }
        if module:
            item["module_address"] = module
        changes.append(item)
        instance = {**identity, "schema_version": 0}  # as planned_values and prior_state list it
        if realistic and after is not None:
            planned.append((module, {**instance, "values": after, "sensitive_values": {}}))
        if realistic and before is not None:
            prior.append((module, {**instance, "values": before, "sensitive_values": {}}))
        config_path = module.replace("[0]", "").replace("[1]", "")
        config_path = config_path.replace('["checkout"]', "").replace('["search"]', "")
        config = {
            "address": f"{resource_type}.{name}",
            "mode": "managed",
            "type": resource_type,
            "name": name,
            "provider_config_key": provider_key,
        }
        if realistic:
            # Literals, and what the type's fixture configuration wires to other resources.
            config["expressions"] = {
                **{
                    key: {"constant_value": value}
                    for key, value in (after or before or {}).items()
                    if value is not None and key != "tags_all"
                },
                **fixture_references().get(resource_type, {}),
            }
            config["schema_version"] = 0
            config["count_expression"] = {"constant_value": 2}
        config_resources.setdefault(config_path, []).append(config)
    for position in range(0 if only_type else resources // 100):  # data sources: read, never priced
        changes.append(
            {
                "address": f"data.aws_ami.ubuntu_{position}",
                "mode": "data",
                "type": "aws_ami",
                "name": f"ubuntu_{position}",
                "change": {"actions": ["read"], "before": None, "after": {"most_recent": True}},
            }
        )

    def module_tree(path: str) -> dict[str, Any]:
        resources_here = {r["address"]: r for r in config_resources.get(path, [])}
        calls: dict[str, Any] = {}
        prefix = f"{path}." if path else ""
        for child in sorted({p for p in config_resources if p.startswith(prefix + "module.") and p != path}):
            rest = child[len(prefix) :]
            call = rest.split(".")[1]
            calls.setdefault(
                call, {"source": f"./modules/{call}", "module": module_tree(prefix + "module." + call)}
            )
        return {"resources": list(resources_here.values()), "module_calls": calls}

    document = {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "variables": {"region": {"value": "us-east-1"}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {
                "aws": {"name": "aws", "expressions": {"region": {"references": ["var.region"]}}},
                "aws.west": {
                    "name": "aws",
                    "alias": "west",
                    "expressions": {"region": {"constant_value": "us-west-2"}},
                },
                "module.eu:aws": {
                    "name": "aws",
                    "module_address": "module.eu",
                    "expressions": {"region": {"constant_value": "eu-west-1"}},
                },
            },
            "root_module": module_tree(""),
        },
    }
    if realistic:
        document["planned_values"] = {"root_module": module_values(planned)}
        document["prior_state"] = {
            "format_version": "1.0",
            "terraform_version": "1.9.5",
            "values": {"root_module": module_values(prior)},
        }
    return orjson.dumps(document)


def module_values(resources: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """``planned_values``' or ``prior_state``'s module tree: resources per module instance, each child
    module under its parent (``module.platform.module.db`` inside ``module.platform``)."""
    root: dict[str, Any] = {"resources": [], "child_modules": []}
    modules: dict[str, dict[str, Any]] = {"": root}

    def module(address: str) -> dict[str, Any]:
        found = modules.get(address)
        if found is None:
            parent_address = address.rsplit(".module.", 1)[0] if ".module." in address else ""
            found = modules[address] = {"resources": [], "address": address, "child_modules": []}
            module(parent_address)["child_modules"].append(found)
        return found

    for address, resource in resources:
        module(address)["resources"].append(resource)
    return root


# Usage in Infracost's format: type defaults, wildcards over count/for_each and module instances.
USAGE_YAML = """
version: 0.1
resource_type_default_usage:
  aws_lambda_function: {monthly_requests: 5000000, request_duration_ms: 250}
  aws_s3_bucket: {standard: {storage_gb: 500, monthly_tier_1_requests: 100000}}
  aws_nat_gateway: {monthly_data_processed_gb: 200}
  aws_dynamodb_table:
    {storage_gb: 50, monthly_write_request_units: 1000000, monthly_read_request_units: 5000000}
  aws_cloudwatch_log_group: {storage_gb: 100, monthly_data_ingested_gb: 50}
  aws_sqs_queue: {monthly_requests: 10000000}
resource_usage:
  aws_lambda_function.lambda_function_3[*]: {monthly_requests: 20000000}
  module.app[*].aws_nat_gateway.nat_gateway_5[*]: {monthly_data_processed_gb: 1000}
  module.svc["checkout"].aws_instance.instance_7[0]: {operating_system: windows}
"""


# --- measurement --------------------------------------------------------------------------------


def interleaved_medians(
    functions: list[Callable[[], object]],
    repeat: int,
    setups: dict[int, Callable[[], object]] | None = None,
) -> list[float]:
    """Median seconds of each function, run in turns so that load from other processes on a shared
    machine weighs on each of them alike; ``setups[i]``, untimed, runs before each call of function i."""
    times: list[list[float]] = [[] for _ in functions]
    setups = setups or {}
    for _ in range(repeat):
        for position, (function, samples) in enumerate(zip(functions, times, strict=True)):
            setup = setups.get(position)
            if setup is not None:
                setup()
            start = time.perf_counter()
            function()
            samples.append(time.perf_counter() - start)
    return [statistics.median(samples) for samples in times]


def fair_floor(plan_bytes: bytes) -> Callable[[], None]:
    """Parsing the bytes under the same collector setting as ``estimate()`` (paused over reading and
    pricing, the document dropped inside the pause): what no estimate can go below."""

    def parse_and_free() -> None:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            document = orjson.loads(plan_bytes)
            del document
        finally:
            if was_enabled:
                gc.enable()

    return parse_and_free


def peak_rss_mb(command: list[str]) -> float:
    """Max RSS of ``command`` alone: a fresh wrapper process waits for it and reads RUSAGE_CHILDREN."""
    wrapper = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, *command], capture_output=True, check=True, timeout=300
    )
    return int(result.stdout) / 1024  # Linux reports KiB


def _repeats(resources: int, repeat: int) -> int:
    """As many runs at every size as ``repeat`` at 5,000 resources would take time, within [5, 201]."""
    return max(5, min(201, repeat * 5000 // max(resources, 1)))


def compare_mixes(size: int, repeat: int, shape: str = "terraform") -> float:
    """Both mixes' ratios to their own floors, timed in the same interleaved turns; returns the growth
    of the ratio from the original mix to the full one (0.05: 5% higher)."""
    catalog = load_bundled_catalog()
    plans = {mix: generate_plan(size, mix=mix, shape=shape) for mix in ("original", "full")}
    functions: list[Callable[[], object]] = []
    for plan_bytes in plans.values():
        cloudcostguard.estimate(plan_bytes, catalog=catalog)  # warm: the catalog's indexes for this mix

        def run(plan_bytes: bytes = plan_bytes) -> object:
            memo.forget(catalog)
            return cloudcostguard.estimate(plan_bytes, catalog=catalog)

        functions += [fair_floor(plan_bytes), run]
    gc.collect()
    floor_o, price_o, floor_f, price_f = interleaved_medians(functions, repeat)
    print(f"\nmixes at {size:,} resources, {repeat} interleaved turns (medians)")
    print(f"{'mix':<9} {'types':>5} {'MB':>6} {'floor ms':>9} {'estimate ms':>12} {'ratio':>6}")
    for mix, floor, price in (("original", floor_o, price_o), ("full", floor_f, price_f)):
        estimate = cloudcostguard.estimate(plans[mix], catalog=catalog)
        types = len({r.resource_type for r in estimate.resources if r.support == "priced"})
        print(
            f"{mix:<9} {types:>5} {len(plans[mix]) / 1e6:>6.2f} {floor * 1000:>9.1f} {price * 1000:>12.1f} "
            f"{price / floor:>5.2f}×"
        )
    growth = (price_f / floor_f) / (price_o / floor_o) - 1
    verdict = "within" if growth <= 0.10 else "OVER"
    print(f"ratio growth, original → full mix: {growth:+.1%} ({verdict} the 10% limit)")
    return growth


def composition(plan_bytes: bytes) -> str:
    """The plan's top-level sections by share of its bytes (the fixtures': see ``generate_plan``)."""
    document = orjson.loads(plan_bytes)
    shares = {key: len(orjson.dumps(value)) / len(plan_bytes) for key, value in document.items()}
    return ", ".join(f"{key} {share:.0%}" for key, share in shares.items() if share >= 0.005)


def by_size(
    sizes: list[int], repeat: int, usage: Usage, mix: str = "full", shape: str = "terraform"
) -> list[float]:
    """Ratios to the floor. ``estimate`` starts every run with an empty memo (``memo.forget``): within
    one estimate repeated sides still hit. ``warm memo`` is the operator's and webhook's case, where
    the catalog's memo already holds the plan's sides from earlier estimates: it prices against a
    catalog object of its own, warmed by a few estimates first (on the shared catalog, the cold runs'
    ``forget`` and the usage runs' sides left it barely warm: it measured like a cold memo).
    ``warm, other plans`` is the webhook meeting a plan it has not seen, of an estate it has: the memo
    of a third catalog object warmed by ``OTHER_PLANS`` plans of the same mix under other seeds only,
    so every hit there is a side that another plan's resource shares."""
    catalog = load_bundled_catalog()
    warm_catalog = InMemoryCatalog(catalog.records(), source=catalog.source, version=catalog.version)
    other_catalog = InMemoryCatalog(catalog.records(), source=catalog.source, version=catalog.version)

    def cold(plan_bytes: bytes, usage: Usage | None = None) -> Callable[[], object]:
        def run() -> object:
            memo.forget(catalog)
            return estimate_any_size(plan_bytes, usage=usage, catalog=catalog)

        return run

    print(
        f"{'resources':>9} {'MB':>6} {'runs':>5} {'floor ms':>9} {'estimate ms':>12} {'ratio':>6} "
        f"{'with usage ms':>14} {'ratio':>6} {'warm memo ms':>13} {'ratio':>6} "
        f"{'other plans ms':>15} {'ratio':>6}"
    )
    ratios = []
    for size in sizes:
        plan_bytes = generate_plan(size, mix=mix, shape=shape)
        estimate_any_size(plan_bytes)  # warm: the catalog's indexes for this mix
        memo.forget(warm_catalog)
        for _ in range(WARM_UP_ESTIMATES):  # a type is recorded once RECORD_AFTER of its sides were seen
            estimate_any_size(plan_bytes, catalog=warm_catalog)
        others = [generate_plan(size, SEED + k, mix=mix, shape=shape) for k in range(1, OTHER_PLANS + 1)]

        def warm_by_others(others: list[bytes] = others) -> None:
            """A memo that has priced the other plans (twice each) and never this one."""
            memo.forget(other_catalog)
            for other in others * 2:
                estimate_any_size(other, catalog=other_catalog)
            gc.collect()

        runs = _repeats(size, repeat)
        gc.collect()
        floor, price, with_usage, warm, other_warm = interleaved_medians(
            [
                fair_floor(plan_bytes),
                cold(plan_bytes),
                cold(plan_bytes, usage),
                lambda plan_bytes=plan_bytes: estimate_any_size(plan_bytes, catalog=warm_catalog),
                lambda plan_bytes=plan_bytes: estimate_any_size(plan_bytes, catalog=other_catalog),
            ],
            runs,
            # Every turn from a memo of the other plans only, not of the last turn's run of this one.
            setups={4: warm_by_others},
        )
        ratios.append(price / floor)
        print(
            f"{size:>9} {len(plan_bytes) / 1e6:>6.2f} {runs:>5} {floor * 1000:>9.1f} {price * 1000:>12.1f} "
            f"{price / floor:>5.2f}× {with_usage * 1000:>14.1f} {with_usage / floor:>5.2f}× "
            f"{warm * 1000:>13.1f} {warm / floor:>5.2f}× "
            f"{other_warm * 1000:>15.1f} {other_warm / floor:>5.2f}×"
        )
    return ratios


def by_type(resources: int, repeat: int, shape: str = "terraform") -> None:
    """µs per resource of a plan of ``resources`` resources of one type: slow pricers stand out."""
    print(f"\nper type: a plan of {resources:,} resources of one type (µs per resource, median)")
    print(f"{'type':<36} {'floor':>7} {'estimate':>9} {'over floor':>11}")
    rows = []
    catalog = load_bundled_catalog()
    for resource_type in sorted(PRICERS):
        plan_bytes = generate_plan(resources, only_type=resource_type, shape=shape)
        cloudcostguard.estimate(plan_bytes)

        def run(plan_bytes: bytes = plan_bytes) -> object:
            memo.forget(catalog)  # the distinct inputs of the plan, not a warm memo from the last run
            return cloudcostguard.estimate(plan_bytes, catalog=catalog)

        floor, price = interleaved_medians([fair_floor(plan_bytes), run], repeat)
        rows.append((resource_type, floor / resources * 1e6, price / resources * 1e6))
    for resource_type, floor_us, price_us in sorted(rows, key=lambda row: row[2] - row[1], reverse=True):
        print(f"{resource_type:<36} {floor_us:>7.1f} {price_us:>9.1f} {price_us - floor_us:>11.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[500, 5000, 50000], help="plan sizes (resources)"
    )
    parser.add_argument("--repeat", type=int, default=21, help="timed runs at 5,000 resources (median)")
    parser.add_argument("--per-type", type=int, default=1000, help="resources per one-type plan (0: skip)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one 5,000 estimate")
    parser.add_argument("--keep", metavar="FILE", help="also write the generated 5,000-resource plan here")
    parser.add_argument(
        "--mix", choices=MIXES, default="full", help="the plans' resource types (default full)"
    )
    parser.add_argument(
        "--shape",
        choices=SHAPES,
        default="terraform",
        help="the plans' layout: terraform (as `terraform show -json` writes it, default) or changes",
    )
    parser.add_argument(
        "--compare-mixes",
        type=int,
        nargs="?",
        const=5000,
        metavar="N",
        help="only time the original and the full mix at N resources (default 5,000), interleaved",
    )
    args = parser.parse_args()

    if args.compare_mixes:
        compare_mixes(args.compare_mixes, args.repeat, args.shape)
        return

    plan_bytes = generate_plan(5000, mix=args.mix, shape=args.shape)
    if args.keep:
        Path(args.keep).write_bytes(plan_bytes)

    gc.collect()
    start = time.perf_counter()
    estimate = cloudcostguard.estimate(plan_bytes)  # cold: loads the bundled catalog, builds indexes
    cold = time.perf_counter() - start
    summary = estimate.summary()
    priced_types = sorted({r.resource_type for r in estimate.resources if r.support == "priced"})
    print(
        f"plan: {summary['totalDetectedResources']} resources, {len(plan_bytes) / 1e6:.2f} MB; "
        f"{len(priced_types)} of the {len(PRICERS)} registered priced types in it: {', '.join(priced_types)}"
    )
    print(
        f"estimate: ${estimate.total_monthly_cost:,.2f}/month "
        f"(past ${estimate.past_total_monthly_cost:,.2f}); "
        f"{summary['totalSupportedResources']} priced, {summary['totalFreeResources']} free, "
        f"{summary['totalUnsupportedResources']} unsupported; "
        f"{summary['totalNoPriceResources']} with a component whose price is not in the bundled snapshot; "
        f"cold first call {cold * 1000:.0f} ms"
    )
    print(f"shape {args.shape}: {composition(plan_bytes)}")
    print(
        "floor: orjson.loads of the same bytes with the collector paused and the document freed, "
        "as estimate() does\n"
    )
    ratios = by_size(args.sizes, args.repeat, Usage.parse(USAGE_YAML), args.mix, args.shape)
    worst = max(ratios)
    verdict = "meets the aim (≤ 2×)" if worst <= 2 else "meets the limit (≤ 3×)" if worst <= 3 else "MISSES"
    print(f"worst ratio estimate / fair floor: {worst:.2f}×  — {verdict}")

    if args.per_type:
        by_type(args.per_type, max(5, args.repeat // 2), args.shape)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.json"
        path.write_bytes(plan_bytes)
        cli = [str(Path(sys.executable).parent / "cloudcostguard"), "estimate", str(path), "--format", "json"]
        cli_peak = peak_rss_mb(cli)
        floor_peak = peak_rss_mb(
            [sys.executable, "-c", f"import orjson; orjson.loads(open({str(path)!r}, 'rb').read())"]
        )
    print(
        f"\npeak RSS `cloudcostguard estimate FILE --format json` (5,000 resources): {cli_peak:.0f} MB "
        f"(must ≤ 80 MB; baseline python + orjson.loads of the file: {floor_peak:.0f} MB)"
    )

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(5):
            cloudcostguard.estimate(plan_bytes)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
