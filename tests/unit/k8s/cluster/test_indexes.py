"""Index functions: what each kopf index stores for an object (shapes documented in ``indexes``)."""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.k8s.cluster import indexes


def test_spend_index_keeps_estimated_objects_not_being_deleted() -> None:
    status = {"monthlyCost": "12.30"}
    entry = indexes.index_costestimate_spend("ns", "web", {"app": "x"}, {}, status)
    assert entry == {"ns": indexes.SpendEntry("web", Decimal("12.30"), {"app": "x"})}
    assert indexes.index_costestimate_spend("ns", "web", {}, {"deletionTimestamp": "now"}, status) is None
    assert indexes.index_costestimate_spend("ns", "web", {}, {}, {}) is None
    assert indexes.index_costestimate_spend("ns", "web", {}, {}, {"monthlyCost": "NaN"}) is None


def test_plan_users_keep_what_re_estimating_needs_and_nothing_of_an_inline_plan() -> None:
    spec = {"plan": {"configMapKeyRef": {"name": "p", "key": "k"}}, "usage": {"a": {"b": 1}}, "other": 1}
    assert indexes.index_plan_users("ns", "web", {"tier": "web"}, spec) == {
        ("ns", "ConfigMap", "p"): indexes.PlanUser(
            "web",
            {"tier": "web"},
            {"plan": {"configMapKeyRef": {"name": "p", "key": "k"}}, "usage": {"a": {"b": 1}}},
        )
    }
    assert indexes.index_plan_users("ns", "web", {}, {"plan": {"inline": {"resource_changes": []}}}) is None


def test_cost_policies_are_parsed_once_into_the_index() -> None:
    [good] = indexes.index_cost_policy(
        "cap", {"enforcement": "Warn", "limits": {"maxMonthlyCost": "5"}}
    ).values()
    assert good.name == "cap" and good.limits.max_monthly_cost == Decimal(5)
    [bad] = indexes.index_cost_policy("broken", {"limits": {"maxMonthlyCost": 5}}).values()
    assert str(bad).startswith("CostPolicy broken: spec.limits.maxMonthlyCost must be a decimal string")


def test_status_money_is_read_leniently() -> None:
    assert indexes.parse_status_money("-12.50") == Decimal("-12.50")  # a diff may be negative
    assert [indexes.parse_status_money(v) for v in (None, 12, "x", "Infinity")] == [None] * 4


def test_plan_reference_for_each_source_kind() -> None:
    def ref(plan: dict[str, object]) -> indexes.PlanRef | None:
        return indexes.plan_reference("ns", {"plan": plan})

    assert ref({"configMapKeyRef": {"name": "p", "key": "k"}}) == ("ns", "ConfigMap", "p")
    assert ref({"secretKeyRef": {"name": "s", "key": "k"}}) == ("ns", "Secret", "s")
    assert ref({"terraformRef": {"name": "infra"}}) == ("ns", "Terraform", "tfplan-default-infra.json")
    assert ref({"terraformRef": {"name": "infra", "workspace": "prod"}}) == (
        "ns",
        "Terraform",
        "tfplan-prod-infra.json",
    )
    assert ref({"inline": {}}) is None
    assert ref({"url": "https://x"}) is None
    assert indexes.plan_reference("ns", {"plan": "nonsense"}) is None


def test_tofu_secrets_are_recognised_by_label_or_legacy_name() -> None:
    assert indexes.is_tofu_json_plan(
        "tfplan-default-infra.json-0", {indexes.TOFU_PLAN_NAME_LABEL: "infra.json"}
    )
    assert not indexes.is_tofu_json_plan("tfplan-default-infra", {indexes.TOFU_PLAN_NAME_LABEL: "infra"})
    assert indexes.is_tofu_json_plan("tfplan-default-infra.json", {})
    assert not indexes.is_tofu_json_plan("tfstate-default-infra", {})


def test_tofu_chunks_share_their_base_name_key() -> None:
    chunk = indexes.index_tofu_plan(
        "ns",
        "tfplan-prod-infra.json-2",
        {indexes.TOFU_CHUNK_ANNOTATION: "2", indexes.TOFU_PLAN_ID_ANNOTATION: "plan-main-1"},
        {"data": {"tfplan": "AAAA"}},
    )
    assert chunk == {
        ("ns", "tfplan-prod-infra.json"): indexes.TofuPlanChunk(
            "tfplan-prod-infra.json-2", 2, "plan-main-1", "AAAA"
        )
    }
    whole = indexes.index_tofu_plan("ns", "tfplan-prod-infra.json", {}, {"data": {"tfplan": "AAAA"}})
    assert list(whole) == [("ns", "tfplan-prod-infra.json")]
    assert whole[("ns", "tfplan-prod-infra.json")].chunk is None


def test_plan_object_decodes_on_demand() -> None:
    [secret] = indexes.index_plan_object("Secret", "ns", "s", {"data": {"k": "aGVsbG8="}}).values()
    assert secret.value("k") == b"hello"
    assert secret.value("absent") is None
    [broken] = indexes.index_plan_object("Secret", "ns", "s", {"data": {"k": "!!"}}).values()
    try:
        broken.value("k")
    except ValueError as err:
        assert "is not base64" in str(err)
    else:
        raise AssertionError("corrupt base64 must raise")
