"""Index functions: what each kopf index stores for an object (shapes documented in ``indexes``)."""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.k8s import indexes


def test_spend_index_keeps_estimated_objects_not_being_deleted() -> None:
    status = {"monthlyCost": "12.30"}
    entry = indexes.index_costestimate_spend("ns", "web", {"app": "x"}, {}, status)
    assert entry == {"ns": indexes.SpendEntry("web", Decimal("12.30"), {"app": "x"})}
    assert indexes.index_costestimate_spend("ns", "web", {}, {"deletionTimestamp": "now"}, status) is None
    assert indexes.index_costestimate_spend("ns", "web", {}, {}, {}) is None
    assert indexes.index_costestimate_spend("ns", "web", {}, {}, {"monthlyCost": "NaN"}) is None


def test_namespace_spend_sums_the_store() -> None:
    index = {
        "ns": [indexes.SpendEntry("a", Decimal("1.10"), {}), indexes.SpendEntry("b", Decimal("2.25"), {})]
    }
    assert indexes.namespace_spend(index, "ns") == (Decimal("3.35"), 2)
    assert indexes.namespace_spend(index, "other") == (Decimal(0), 0)


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
