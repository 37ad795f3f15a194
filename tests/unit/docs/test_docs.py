"""docs/ stays true: the generated references match the code, links resolve, the alerts name real
metrics, and the quick start's commands run and print what the page shows."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scripts import docs_reference

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+)\)")


def test_generated_references_match_the_code() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in docs_reference.rendered().items()
        if not path.is_file() or path.read_text() != text
    ]
    assert stale == [], "run `make manifests`"


def test_every_metric_is_documented() -> None:
    text = (DOCS / "reference" / "metrics.md").read_text()
    rows = docs_reference.metric_rows()
    assert len(rows) >= 28
    for name, _kind, _labels, meaning in rows:
        assert f"| `{name}` |" in text and meaning


def test_crd_reference_covers_every_contract_field() -> None:
    text = (DOCS / "reference" / "crds.md").read_text()
    for field in (
        "spec.plan.terraformRef.workspace",
        "status.topResources[].diffMonthlyCost",
        "status.policy.verdict",
        "status.conditions[].observedGeneration",
        "spec.limits.namespaceMonthlyBudget",
        "spec.namespaceSelector",
    ):
        assert f"`{field}`" in text, field


def exposed_series() -> set[str]:
    names = set()
    for name, kind, _labels, _meaning in docs_reference.metric_rows():
        names.add(name)
        if kind == "histogram":
            names.update(f"{name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


def test_alerts_use_only_metrics_that_exist() -> None:
    [rule] = [doc for doc in yaml.safe_load_all((ROOT / "config/prometheus/alerts.yaml").read_text()) if doc]
    alerts = [alert for group in rule["spec"]["groups"] for alert in group["rules"]]
    assert len(alerts) >= 8
    series = exposed_series()
    for alert in alerts:
        used = set(re.findall(r"cloudcostguard_[a-z_]+", alert["expr"]))
        assert used and used <= series, (alert["alert"], used - series)
        assert alert["labels"]["severity"] in {"critical", "warning", "info"}
        assert alert["annotations"]["summary"]
    operations = (DOCS / "operations.md").read_text()
    assert all(f"| {alert['alert']} |" in operations for alert in alerts)


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda path: path.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+://", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert broken == []


def test_the_index_lists_every_page() -> None:
    index = (DOCS / "README.md").read_text()
    for page in PAGES:
        if page.name != "README.md":
            assert f"({page.relative_to(DOCS).as_posix()}" in index, page.name


def quickstart_steps() -> list[tuple[str, list[str]]]:
    """(command, lines it must print) for each ```sh block of the quick start's CLI part."""
    text = (DOCS / "quickstart.md").read_text().split("## In a cluster", 1)[0]
    blocks = re.findall(r"```(sh|text)\n(.*?)```", text, flags=re.DOTALL)
    steps: list[tuple[str, list[str]]] = []
    for language, body in blocks:
        if language == "sh":
            steps.extend((line, []) for line in body.splitlines() if line.strip())
        elif steps:
            steps[-1][1].extend(line.strip() for line in body.splitlines() if line.strip())
    return steps


def test_the_quick_start_commands_print_what_the_page_shows() -> None:
    steps = quickstart_steps()
    assert [command.split()[0] for command, _ in steps] == ["make"] + [".venv/bin/cloudcostguard"] * 3
    for command, expected in steps[1:]:  # `make install` is what made this test run
        words = shlex.split(command, comments=True)
        exit_code = 1 if "# exits 1" in command else 0
        words[0] = str(Path(sys.executable).parent / "cloudcostguard")
        result = subprocess.run(words, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
        assert result.returncode == exit_code, (command, result.stderr)
        printed = {line.strip() for line in result.stdout.splitlines()}
        assert [line for line in expected if line not in printed] == [], command


@pytest.mark.parametrize(
    ("page", "example"),
    [
        ("gitops/flux.md", "examples/gitops/flux/kustomization.yaml"),
        ("gitops/tofu-controller.md", "examples/gitops/tofu-controller/terraform.yaml"),
    ],
)
def test_guides_show_the_examples_that_are_validated(page: str, example: str) -> None:
    [block] = re.findall(r"```yaml\n(.*?)```", (DOCS / page).read_text(), flags=re.DOTALL)
    shown = [doc for doc in yaml.safe_load_all(block) if doc]
    assert shown == [doc for doc in yaml.safe_load_all((ROOT / example).read_text()) if doc]


def test_policies_page_shows_the_sample_policies() -> None:
    [block] = re.findall(r"```yaml\n(.*?)```", (DOCS / "policies.md").read_text(), flags=re.DOTALL)
    sample = (ROOT / "config" / "samples" / "costpolicy.yaml").read_text()
    assert list(yaml.safe_load_all(block)) == list(yaml.safe_load_all(sample))
