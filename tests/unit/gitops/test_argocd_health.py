"""The Argo CD health checks, run the way Argo CD runs them, on every status the operator writes.

Argo CD runs ``health.lua`` in gopher-lua (Lua 5.1) with only the base, table, package and a safe os
library open — no ``string`` library, so no string methods either — and ``obj`` as a global table
decoded from the object's JSON. The runtime here is Lua 5.1 from ``lupa`` with the same libraries
taken away, so a script that would fail in Argo CD fails here too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

from tests.unit.deploy import manifests
from tests.unit.gitops import states

CUSTOMIZATIONS = states.CUSTOMIZATIONS
KINDS = ("CostEstimate", "CostPolicy")


def to_lua(runtime: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return runtime.table_from({key: to_lua(runtime, item) for key, item in value.items()})
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, item) for item in value])
    return value


def argocd_health(script: str, obj: dict[str, Any]) -> dict[str, str]:
    runtime = lua51.LuaRuntime(register_eval=False, unpack_returned_tuples=True)
    # What Argo CD's VM does not open: string (and its metatable on strings), math, io, debug, os.
    runtime.execute(
        "debug.setmetatable('', nil); string = nil; math = nil; io = nil; os = nil; debug = nil; "
        "load = nil; loadstring = nil; dofile = nil; loadfile = nil"
    )
    runtime.globals().obj = to_lua(runtime, obj)
    result = runtime.execute(script)
    return {key: result[key] for key in ("status", "message") if result[key] is not None}


def health_tests(kind: str) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    folder = CUSTOMIZATIONS / kind
    document = yaml.safe_load((folder / "health_test.yaml").read_text())
    return [
        (test["inputPath"], test["healthStatus"], yaml.safe_load((folder / test["inputPath"]).read_text()))
        for test in document["tests"]
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_health_test_yaml_cases_pass(kind: str) -> None:
    script = (CUSTOMIZATIONS / kind / "health.lua").read_text()
    cases = health_tests(kind)
    assert len(cases) >= 6
    for input_path, expected, obj in cases:
        assert argocd_health(script, obj) == expected, input_path


@pytest.mark.parametrize("kind", KINDS)
def test_each_state_gets_the_health_the_issue_asks_for(kind: str) -> None:
    script = (CUSTOMIZATIONS / kind / "health.lua").read_text()
    _expect, table = states.SAMPLES[kind]
    objects = states.all_states()[kind]
    assert set(objects) == set(table)
    got = {name: argocd_health(script, obj)["status"] for name, obj in objects.items()}
    assert got == table


def test_messages_come_from_the_conditions() -> None:
    script = (CUSTOMIZATIONS / "CostEstimate" / "health.lua").read_text()
    objects = states.all_states()["CostEstimate"]
    deny = argocd_health(script, objects["over-budget-deny"])["message"]
    assert deny.startswith("Over budget (team-budget, Deny): CostPolicy team-budget: monthly cost ")
    assert "exceeds maxMonthlyCost 10.00 USD" in deny
    stalled = argocd_health(script, objects["invalid-plan"])["message"]
    assert stalled == "PlanInvalid: unsupported plan format_version '9.0': supported are 0.x and 1.x"
    healthy = argocd_health(script, objects["estimated"])["message"]
    assert healthy == objects["estimated"]["status"]["conditions"][0]["message"]


def test_samples_are_what_the_operator_writes_now() -> None:
    rendered = states.rendered_samples(states.all_states())
    on_disk = {path.relative_to(CUSTOMIZATIONS): path.read_text() for path in CUSTOMIZATIONS.rglob("*.yaml")}
    assert set(on_disk) == set(rendered)
    stale = [str(path) for path, text in rendered.items() if on_disk[path] != text]
    assert stale == [], "regenerate with `python -m tests.unit.gitops.states`"


@pytest.mark.skipif(manifests.kubectl_binary() is None, reason=manifests.KUBECTL_MISSING)
def test_argocd_cm_carries_the_same_scripts() -> None:
    [configmap] = manifests.kustomize(CUSTOMIZATIONS.parents[1])
    assert (configmap["kind"], configmap["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    assert configmap["metadata"]["namespace"] == "argocd"
    assert configmap["metadata"]["labels"]["app.kubernetes.io/part-of"] == "argocd"
    for kind in KINDS:
        key = f"resource.customizations.health.cloudcostguard.io_{kind}"
        assert configmap["data"][key] == (CUSTOMIZATIONS / kind / "health.lua").read_text()


def test_a_script_using_the_string_library_fails_as_in_argocd() -> None:
    with pytest.raises(lua51.LuaError):
        argocd_health('local hs = {}; hs.status = ("x"):upper(); return hs', {"metadata": {}})
    with pytest.raises(lua51.LuaError):
        argocd_health('return {status = string.upper("x")}', {"metadata": {}})


def test_the_script_is_lua_5_1() -> None:
    for kind in KINDS:
        text = (CUSTOMIZATIONS / kind / "health.lua").read_text()
        assert "goto" not in text and "//" not in text  # Lua 5.2+/5.3+ syntax
    assert Path(lua51.__file__).name.startswith("lua51")


def test_unpriced_resources_are_named_as_such() -> None:
    script = (CUSTOMIZATIONS / "CostEstimate" / "health.lua").read_text()
    objects = states.all_states()["CostEstimate"]
    deny = argocd_health(script, objects["unpriced-deny"])
    assert deny["status"] == "Degraded"
    assert deny["message"].startswith(
        "Unpriced resources (team-budget, Deny): CostPolicy team-budget: adds 1 resource that cannot be "
        "priced, so no limit counts them: aws_made_up_thing.queue (type not supported)"
    )
    warn = argocd_health(script, objects["unpriced-warn"])
    assert warn["status"] == "Healthy"
    assert (
        "; unpriced resources (team-budget, Warn): CostPolicy team-budget: adds 1 resource" in warn["message"]
    )


def test_pending_is_progressing_and_an_invalid_policy_degraded() -> None:
    estimate_script = (CUSTOMIZATIONS / "CostEstimate" / "health.lua").read_text()
    estimates = states.all_states()["CostEstimate"]
    assert argocd_health(estimate_script, estimates["pending"]) == {
        "status": "Progressing",
        "message": "Pending: waiting for the first estimate of the plan",
    }
    policy_script = (CUSTOMIZATIONS / "CostPolicy" / "health.lua").read_text()
    invalid = states.all_states()["CostPolicy"]["invalid"]
    assert [c["type"] for c in invalid["status"]["conditions"]] == ["Ready", "Stalled"]
    assert argocd_health(policy_script, invalid) == {
        "status": "Degraded",
        "message": "PolicyInvalid: spec.limits.maxMonthlyCost: Input should be a valid string",
    }
