"""Systems Manager, CloudWatch alarms, Kinesis modes, Glue DPUs, Elastic Beanstalk settings: the
attribute readings Infracost's goldens do not exercise."""

from __future__ import annotations

from decimal import Decimal

from tests.unit.estimation.aws.single_resource import component, names, price_resource

D = Decimal


def test_a_standard_parameter_is_free_and_an_advanced_one_is_stored_every_hour() -> None:
    assert price_resource("aws_ssm_parameter.p", {"tier": "Standard"}).components == []
    advanced = price_resource("aws_ssm_parameter.p", {"tier": "Advanced"})
    assert component(advanced, "Parameter storage (advanced)").monthly_quantity == D(730)
    assert component(advanced, "API interactions (advanced)").monthly_quantity is None


def test_an_activation_above_1000_registrations_is_in_the_advanced_tier() -> None:
    assert price_resource("aws_ssm_activation.a", {"registration_limit": 1000}).components == []
    advanced = price_resource("aws_ssm_activation.a", {"registration_limit": 1001}, usage={"instances": 3})
    assert component(advanced, "On-prem managed instances (advanced)").monthly_quantity == D(2190)


def test_an_alarm_counts_each_metric_query_with_a_metric_and_its_period_sets_the_resolution() -> None:
    queries = [
        {"id": "a", "metric": [{"metric_name": "x", "period": 10}]},
        {"id": "b", "metric": [{"metric_name": "y", "period": 10}]},
        {"id": "e", "expression": "a+b", "metric": []},
    ]
    alarm = price_resource("aws_cloudwatch_metric_alarm.a", {"metric_query": queries})
    assert component(alarm, "High resolution").monthly_quantity == D(2)
    banded = price_resource(
        "aws_cloudwatch_metric_alarm.a",
        {"period": 300, "comparison_operator": "LessThanLowerOrGreaterThanUpperThreshold"},
    )
    line = component(banded, "Standard resolution anomaly detection")
    assert (line.monthly_quantity, line.unit) == (D(3), "alarms")


def test_a_stream_whose_mode_is_unknown_is_provisioned_when_it_has_shards() -> None:
    stream = price_resource("aws_kinesis_stream.s", {"shard_count": 2}, unknown={"stream_mode_details": True})
    assert component(stream, "PROVISIONED").monthly_quantity == D(1460)
    unknown = price_resource(
        "aws_kinesis_stream.s", {}, unknown={"stream_mode_details": True, "shard_count": True}
    )
    assert unknown.components == []
    provisioned = price_resource(
        "aws_kinesis_stream.s", {"shard_count": 3, "stream_mode_details": [{"stream_mode": "PROVISIONED"}]}
    )
    assert component(provisioned, "PROVISIONED").monthly_quantity == D(2190)


def test_glue_job_dpus_come_from_workers_g2x_counting_double() -> None:
    job = price_resource(
        "aws_glue_job.j",
        {"number_of_workers": 4, "worker_type": "G.2X", "max_capacity": 99},
        usage={"monthly_hours": 5},
    )
    line = component(job, "Duration")
    assert (line.unit, line.monthly_quantity) == ("hours (8 DPUs)", D(5))
    shell = component(price_resource("aws_glue_job.j", {"max_capacity": 0.0625}), "Duration")
    assert shell.unit == "hours (0.0625 DPUs)"


def test_beanstalk_takes_the_first_of_several_instance_types_and_streams_logs_only_when_true() -> None:
    settings = [
        {"name": "InstanceTypes", "namespace": "aws:ec2:instances", "value": "t3.small,t3.medium"},
        {"name": "MinSize", "namespace": "aws:autoscaling:asg", "value": "3"},
        {"name": "StreamLogs", "namespace": "aws:elasticbeanstalk:cloudwatch:logs", "value": "false"},
        {"name": "LoadBalancerType", "namespace": "aws:elasticbeanstalk:environment", "value": "application"},
    ]
    environment = price_resource("aws_elastic_beanstalk_environment.e", {"setting": settings})
    instances = component(
        environment, "Instance usage (Linux/UNIX, on-demand, t3.small)", "aws_launch_configuration"
    )
    assert instances.monthly_quantity == D(2190)
    assert "aws_cloudwatch_log_group" not in {sub for sub, _ in names(environment)}
    assert component(environment, "Application load balancer", "aws_loadbalancer").monthly_quantity == D(730)


def test_beanstalk_instances_take_their_operating_system_from_the_ec2_usage() -> None:
    settings = [
        {"name": "InstanceType", "namespace": "aws:autoscaling:launchconfiguration", "value": "t3.small"}
    ]
    environment = price_resource(
        "aws_elastic_beanstalk_environment.e",
        {"setting": settings},
        usage={"ec2": {"operating_system": "windows"}},
    )
    line = component(environment, "Instance usage (Windows, on-demand, t3.small)", "aws_launch_configuration")
    assert line.monthly_quantity == D(730)
