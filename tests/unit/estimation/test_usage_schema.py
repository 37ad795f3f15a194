"""Usage keys each pricer declares: unknown keys are warned about, and the usage template lists them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import cloudcostguard
from cloudcostguard.cli import main
from cloudcostguard.estimation.registry import PRICERS, USAGE_KEYS, load_all_pricers
from cloudcostguard.estimation.usage import Usage, resource_type_of
from cloudcostguard.estimation.usage_template import usage_template
from cloudcostguard.plan.reader import read_plan
from tests.plans import change, plan, provider

CASES_DIR = Path(__file__).resolve().parents[1].parent / "fixtures" / "infracost"
# Keys of Infracost's own test usage files that no Infracost pricer reads either (typos in its tests,
# or a target's key written on the resource it scales); the warning is right about them.
UNREAD_IN_INFRACOST_TESTS = {
    ("aws_sqs_queue.fifo_sqs_queue_withUsage", "request_size"),
    ("aws_elasticache_replication_group.cluster_reserved", "capacity"),
    # Infracost lists no CPU credits for Elastic Beanstalk instances: the key changes nothing there.
    ("aws_elastic_beanstalk_environment.my_eb_environment_with_rds.ec2", "monthly_cpu_credit_hrs"),
}
LAMBDA_PLAN = plan(
    change("aws_lambda_function.api", ["create"], after={"memory_size": 512}),
    change('aws_lambda_function.each["a b: c"]', ["create"], after={}),
    change("aws_lambda_function.gone", ["delete"], before={}),
    change("aws_nat_gateway.egress", ["create"], after={}),
    change("aws_vpc.main", ["create"], after={}),
    providers={"aws": provider("us-east-1")},
)


def test_every_priced_type_declares_its_usage_keys() -> None:
    load_all_pricers()
    assert len(PRICERS) >= 20
    assert set(USAGE_KEYS) == set(PRICERS)
    for resource_type, keys in USAGE_KEYS.items():
        names = [key.name for key in keys]
        assert len(names) == len(set(names)), resource_type
        assert all(key.meaning and key.kind for key in keys), resource_type


def test_infracost_test_usage_files_use_only_declared_keys() -> None:
    unread = set()
    for usage_file in sorted(CASES_DIR.glob("*/usage.yml")):
        for warning in Usage.parse(usage_file.read_text()).unknown_keys(USAGE_KEYS):
            address = warning.split()[1].rstrip(":")
            key = warning.split("unknown key ")[1].split()[0].strip("'")
            unread.add((address, key))
    assert unread == UNREAD_IN_INFRACOST_TESTS


def test_an_unknown_key_is_a_warning_naming_the_address_and_the_key() -> None:
    usage = {
        "version": "0.1",
        "resource_usage": {
            "aws_lambda_function.api": {"monthly_request": 1000},  # typo of monthly_requests
            "aws_vpc.main": {"anything": 1},  # free type: nothing reads it, nothing to say
        },
        "resource_type_default_usage": {"aws_nat_gateway": {"monthly_data_processed": 10}},
    }
    estimate = cloudcostguard.estimate(LAMBDA_PLAN, usage=usage)
    assert estimate.warnings == [
        "usage resource_type_default_usage.aws_nat_gateway: unknown key 'monthly_data_processed' for "
        "aws_nat_gateway (it reads: monthly_data_processed_gb)",
        "usage aws_lambda_function.api: unknown key 'monthly_request' for aws_lambda_function "
        "(it reads: monthly_requests, request_duration_ms)",
    ]
    assert estimate.to_dict()["warnings"] == estimate.warnings
    assert "warnings" not in cloudcostguard.estimate(LAMBDA_PLAN).to_dict()


def test_nested_keys_of_an_object_are_checked() -> None:
    usage = Usage.parse({"aws_s3_bucket.logs": {"standard": {"storage_gb": 5, "storage": 1}}})
    (warning,) = usage.unknown_keys(USAGE_KEYS)
    assert warning.startswith("usage aws_s3_bucket.logs.standard: unknown key 'storage' for aws_s3_bucket")


@pytest.mark.parametrize(
    ("address", "resource_type"),
    [
        ("aws_instance.web", "aws_instance"),
        ('module.a["x"].aws_instance.web[*]', "aws_instance"),
        ("data.aws_ami.ubuntu", ""),
        ("nothing", ""),
    ],
)
def test_the_type_of_a_usage_address(address: str, resource_type: str) -> None:
    assert resource_type_of(address) == resource_type


def test_the_template_lists_usage_based_resources_with_every_key_commented() -> None:
    text = usage_template(read_plan(LAMBDA_PLAN))
    assert text.splitlines()[:5] == [
        "version: 0.1",
        "resource_usage:",
        "  aws_lambda_function.api:",
        "    # monthly_requests: 0.0  # float: Monthly requests to the function.",
        "    # request_duration_ms: 0.0  # float: Average duration of a request (ms; default 1).",
    ]
    document = yaml.safe_load(text)
    # Valid as it stands, pricing nothing; deleted resources and types without usage keys are left out.
    assert document["resource_usage"] == {
        "aws_lambda_function.api": None,
        'aws_lambda_function.each["a b: c"]': None,
        "aws_nat_gateway.egress": None,
    }
    assert not cloudcostguard.estimate(LAMBDA_PLAN, usage=text).warnings


def test_an_uncommented_template_key_prices_the_resource() -> None:
    text = usage_template(read_plan(LAMBDA_PLAN)).replace(
        "    # monthly_requests: 0.0  # float", "    monthly_requests: 1000000  # float", 1
    )
    estimate = cloudcostguard.estimate(LAMBDA_PLAN, usage=text)
    api = next(r for r in estimate.resources if r.address == "aws_lambda_function.api")
    requests = next(c for c in api.components if c.name == "Requests")
    assert requests.monthly_quantity == 1
    assert requests.monthly_cost is not None and requests.monthly_cost > 0


def test_cli_writes_the_template_and_warns_about_unknown_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import orjson

    plan_file = tmp_path / "plan.json"
    plan_file.write_bytes(orjson.dumps(LAMBDA_PLAN))
    out_file = tmp_path / "usage.yml"
    with pytest.raises(SystemExit) as caught:
        main(["usage", "template", str(plan_file), "--output", str(out_file)])
    assert caught.value.code == 0
    assert "aws_nat_gateway.egress:" in out_file.read_text()
    out_file.write_text("version: 0.1\nresource_usage:\n  aws_nat_gateway.egress: {monthly_gb: 3}\n")
    capsys.readouterr()
    with pytest.raises(SystemExit) as caught:
        main(["estimate", str(plan_file), "--usage", str(out_file), "--format", "json"])
    assert caught.value.code == 0
    err = capsys.readouterr().err
    assert err == (
        "cloudcostguard: warning: usage aws_nat_gateway.egress: unknown key 'monthly_gb' for "
        "aws_nat_gateway (it reads: monthly_data_processed_gb)\n"
    )


def test_cli_template_of_a_missing_plan_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["usage", "template", str(tmp_path / "missing.json")])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "plan file not found" in err
