import pytest

from cloudcostguard import errors
from cloudcostguard.policy.selectors import matches, validate_selector


def test_empty_selector_matches_everything() -> None:
    assert matches(None, {"team": "a"})
    assert matches({}, {})


def test_match_labels_need_every_label() -> None:
    selector = {"matchLabels": {"team": "payments", "env": "prod"}}
    assert matches(selector, {"team": "payments", "env": "prod", "extra": "x"})
    assert not matches(selector, {"team": "payments"})


@pytest.mark.parametrize(
    ("operator", "values", "labels", "expected"),
    [
        ("In", ["prod", "staging"], {"env": "prod"}, True),
        ("In", ["prod"], {"env": "dev"}, False),
        ("In", ["prod"], {}, False),
        ("NotIn", ["prod"], {"env": "dev"}, True),
        ("NotIn", ["prod"], {}, True),
        ("NotIn", ["prod"], {"env": "prod"}, False),
        ("Exists", [], {"env": "x"}, True),
        ("Exists", [], {}, False),
        ("DoesNotExist", [], {}, True),
        ("DoesNotExist", [], {"env": "x"}, False),
    ],
)
def test_match_expressions_follow_kubernetes(
    operator: str, values: list[str], labels: dict[str, str], expected: bool
) -> None:
    selector = {"matchExpressions": [{"key": "env", "operator": operator, "values": values}]}
    validate_selector(selector)
    assert matches(selector, labels) is expected


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("team=a", "must be an object"),
        ({"matchLabels": {"a": 1}}, "matchLabels must map strings"),
        ({"matchExpressions": [{"key": "a", "operator": "Like"}]}, "operator must be one of"),
        ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "needs values"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "takes no values"),
    ],
)
def test_malformed_selectors_are_policy_errors(selector: object, message: str) -> None:
    with pytest.raises(errors.PolicyError, match=message):
        validate_selector(selector)
