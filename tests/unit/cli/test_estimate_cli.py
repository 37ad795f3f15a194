"""``cloudcostguard estimate``: output formats, and bad input as one line on stderr with exit code 2.

Most cases call ``main()`` in-process; a few run the installed console script and ``python -m`` to
prove the real entry points behave the same (no traceback, no hang).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.plans import change, plan, provider
from tests.unit.cli.invoke import run_cli as _run

BIN = Path(sys.executable).parent
CONSOLE_SCRIPT = BIN / "cloudcostguard"
NAT_PLAN = plan(
    change("aws_nat_gateway.egress", ["create"], after={}),
    change("aws_nat_gateway.old", ["delete"], before={}),
    change("aws_vpc.main", ["create"], after={}),
    change("aws_made_up.thing", ["create"], after={}),
    providers={"aws": provider("us-east-1")},
)
TIMEOUT = 60  # seconds: generous for a shared 2-CPU machine; a hang fails instead of blocking the suite


def _write(tmp_path: Path, payload: bytes, name: str = "plan.json") -> str:
    path = tmp_path / name
    path.write_bytes(payload)
    return str(path)


@pytest.fixture
def nat_plan_file(tmp_path: Path) -> str:
    return _write(tmp_path, orjson.dumps(NAT_PLAN))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI reads CCG_* settings; the developer's own environment must not change these tests.
    for name in ("CCG_DATABASE_URL", "CCG_MAX_PLAN_BYTES", "CCG_DEFAULT_REGION", "CCG_HOURS_PER_MONTH"):
        monkeypatch.delenv(name, raising=False)


# --- success ------------------------------------------------------------------------------------


def test_table_is_the_default(nat_plan_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["estimate", nat_plan_file], capsys)
    assert (code, err) == (0, "")
    assert " aws_nat_gateway.egress" in out
    assert " aws_nat_gateway.old  (delete, was $32.85)" in out
    assert " OVERALL TOTAL" in out and "$32.85" in out
    assert " Monthly change" in out and "$0.00" in out
    assert " Not supported (not included in the totals): 1 × aws_made_up" in out


def test_json_output(nat_plan_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["estimate", nat_plan_file, "--format", "json"], capsys)
    document = orjson.loads(out)
    assert code == 0
    assert (
        document["totalMonthlyCost"],
        document["pastTotalMonthlyCost"],
        document["diffTotalMonthlyCost"],
    ) == (
        "32.85",
        "32.85",
        "0.00",
    )
    assert document["pricing"]["source"] == "bundled"
    assert document["summary"]["unsupportedResourceCounts"] == {"aws_made_up": 1}


def test_markdown_output(nat_plan_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["estimate", nat_plan_file, "--format", "markdown"], capsys)
    assert code == 0
    assert out.startswith("### 💰 CloudCostGuard cost estimate")
    assert "| `aws_nat_gateway.egress` | create | $0.00 | $32.85 | +$32.85 |" in out


def test_usage_file(nat_plan_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    usage = _write(
        tmp_path,
        b"version: 0.1\nresource_usage:\n  aws_nat_gateway.egress:\n    monthly_data_processed_gb: 100\n",
        "u.yml",
    )
    code, out, _ = _run(["estimate", nat_plan_file, "--usage", usage, "--format", "json"], capsys)
    assert code == 0
    assert orjson.loads(out)["totalMonthlyCost"] == "37.35"  # 32.85 + 100 GB × $0.045


def test_default_region_flag_and_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    path = _write(
        tmp_path, orjson.dumps(plan(change("aws_nat_gateway.a", ["create"], after={}), providers={}))
    )
    _, out, _ = _run(["estimate", path, "--format", "json", "--default-region", "eu-west-3"], capsys)
    assert orjson.loads(out)["resources"][0]["region"] == "eu-west-3"
    monkeypatch.setenv("CCG_DEFAULT_REGION", "ap-northeast-1")
    _, out, _ = _run(["estimate", path, "--format", "json"], capsys)
    assert orjson.loads(out)["resources"][0]["region"] == "ap-northeast-1"


def test_plan_from_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(orjson.dumps(NAT_PLAN))))
    code, out, _ = _run(["estimate", "-", "--format", "json"], capsys)
    assert code == 0 and orjson.loads(out)["totalMonthlyCost"] == "32.85"


# --- bad input ----------------------------------------------------------------------------------

BAD_PLANS = {
    "empty": (b"", "plan is empty"),
    "not-json": (b"this is not json", "plan is not valid JSON"),
    "truncated": (orjson.dumps(NAT_PLAN)[:-40], "plan is not valid JSON"),
    "binary": (bytes(range(256)) * 8, "plan is not valid JSON"),
    "not-a-plan": (b'{"hello": "world"}', "not a Terraform plan: no format_version"),
    "state": (b'{"format_version": "1.0", "values": {}}', "this is Terraform state, not a plan"),
    "future-format": (
        b'{"format_version": "9.1", "resource_changes": []}',
        "unsupported plan format_version '9.1'",
    ),
    "wrong-types": (
        b'{"format_version": "1.2", "resource_changes": "all of them"}',
        "resource_changes must be a list",
    ),
    "wrong-action": (
        orjson.dumps(plan(change("aws_nat_gateway.a", ["explode"], after={}))),
        "aws_nat_gateway.a: unknown change.actions ['explode']",
    ),
    "too-deep": (b"[" * 100_000 + b"]" * 100_000, "plan nests values deeper than 1024 levels"),
}


@pytest.mark.parametrize("case", sorted(BAD_PLANS))
def test_bad_plans_exit_2_with_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload, message = BAD_PLANS[case]
    code, out, err = _run(["estimate", _write(tmp_path, payload)], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("cloudcostguard: error: ") and err.endswith("\n") and err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["estimate", "/nonexistent/plan.json"], "plan file not found: /nonexistent/plan.json"),
        (["estimate", "{tmp}"], "plan path is a directory"),
        (["estimate", "{plan}", "--usage", "/nonexistent/u.yml"], "usage file not found: /nonexistent/u.yml"),
        (["estimate", "{plan}", "--usage", "{bad_usage}"], "usage file is not valid YAML"),
        (["estimate", "-", "--usage", "-"], "the plan and the usage file cannot both be read from stdin"),
    ],
)
def test_bad_paths_and_usage_exit_2(
    argv: list[str], message: str, tmp_path: Path, nat_plan_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_usage = _write(tmp_path, b"resource_usage: [unclosed", "bad.yml")
    argv = [a.format(tmp=tmp_path, plan=nat_plan_file, bad_usage=bad_usage) for a in argv]
    code, _, err = _run(argv, capsys)
    assert code == 2 and err.startswith("cloudcostguard: error: ") and err.count("\n") == 1
    assert message in err


def test_deep_but_allowed_nesting_is_estimated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    deep = b"[" * 1000 + b"1" + b"]" * 1000  # within orjson's 1,024 levels
    payload = orjson.dumps(NAT_PLAN).replace(b'"after":{}', b'"after":{"tags":' + deep + b"}", 1)
    assert deep in payload
    code, out, err = _run(["estimate", _write(tmp_path, payload), "--format", "json"], capsys)
    assert (code, err) == (0, "")
    assert orjson.loads(out)["totalMonthlyCost"] == "32.85"


def test_size_limit_comes_from_the_setting(
    nat_plan_file: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CCG_MAX_PLAN_BYTES", "100")
    code, _, err = _run(["estimate", nat_plan_file], capsys)
    assert code == 2
    assert (
        f"cloudcostguard: error: plan {nat_plan_file} is larger than the limit of 100 bytes "
        "(CCG_MAX_PLAN_BYTES)" in err
    )


def test_bad_setting_exits_2_naming_the_variable(
    nat_plan_file: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CCG_MAX_PLAN_BYTES", "lots")
    code, _, err = _run(["estimate", nat_plan_file], capsys)
    assert code == 2 and "invalid setting CCG_MAX_PLAN_BYTES" in err


def test_stdin_left_on_a_terminal_is_an_error_not_a_hang(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Terminal(io.TextIOWrapper):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal(io.BytesIO(b"")))
    code, _, err = _run(["estimate", "-"], capsys)
    assert code == 2 and "plan is read from stdin (-), but stdin is a terminal" in err


def test_unknown_format_is_an_argparse_usage_error(
    nat_plan_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(["estimate", nat_plan_file, "--format", "xml"], capsys)
    assert code == 2 and "invalid choice: 'xml'" in err


# --- the real entry points ----------------------------------------------------------------------


def _script(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(CONSOLE_SCRIPT), *args], input=stdin, capture_output=True, timeout=TIMEOUT, env=env, check=False
    )


def test_console_script_prices_a_plan_from_stdin() -> None:
    result = _script("estimate", "-", "--format", "json", stdin=orjson.dumps(NAT_PLAN))
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["totalMonthlyCost"] == "32.85"


@pytest.mark.parametrize("payload", [b"", b"{not json", b"\x00\x01\x02\xff" * 1000, b"[" * 5000])
def test_console_script_bad_input_is_one_line_without_traceback(payload: bytes) -> None:
    result = _script("estimate", "-", stdin=payload)
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.startswith(b"cloudcostguard: error: ")
    assert result.stderr.count(b"\n") == 1 and b"Traceback" not in result.stderr


def test_console_script_refuses_a_plan_over_the_size_limit_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 5_000_000)
    result = _script("estimate", str(big), env={"CCG_MAX_PLAN_BYTES": "1000", "PATH": str(BIN)})
    assert result.returncode == 2
    assert b"larger than the limit of 1000 bytes" in result.stderr and b"Traceback" not in result.stderr


def test_python_dash_m_runs_the_cli(nat_plan_file: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cloudcostguard", "estimate", nat_plan_file, "--format", "json"],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["totalMonthlyCost"] == "32.85"


def test_help_and_version() -> None:
    result = _script("--help")
    assert result.returncode == 0 and b"estimate" in result.stdout
    result = _script("estimate", "--help")
    assert result.returncode == 0 and b"--format {table,json,markdown}" in result.stdout
    result = _script("--version")
    assert result.returncode == 0 and result.stdout.startswith(b"cloudcostguard ")


@pytest.mark.parametrize("command", ["", "estimate"])
def test_help_and_estimate_import_nothing_heavy(command: str) -> None:
    """``--help`` and ``estimate`` stay fast: settings (pydantic), the estimator and pricers, and other
    subcommands' modules load only when their command runs."""
    heavy = (
        "pydantic",
        "cloudcostguard.estimation.estimator",
        "cloudcostguard.render",
        "kopf",
        "asyncpg",
        "yaml",
    )
    probe = (
        f"import sys; from cloudcostguard.cli import build_parser; build_parser({command!r}); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=TIMEOUT, check=True)
    assert result.stdout.strip() == b"[]"


def test_command_listing_matches_each_commands_own_help() -> None:
    from cloudcostguard.cli import COMMANDS, build_parser

    [subcommands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    registered = {choice.dest: choice.help for choice in subcommands._choices_actions}
    assert registered == {name: COMMANDS[name][1] for name in registered}
    assert "estimate" in registered


def test_output_to_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    plans = [change(f"aws_nat_gateway.n[{i}]", ["create"], after={}) for i in range(3000)]
    path = _write(tmp_path, orjson.dumps(plan(*plans)))
    result = subprocess.run(
        f"'{CONSOLE_SCRIPT}' estimate '{path}' | head -c 10",
        shell=True,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.stdout == b" Name     "
    assert result.stderr == b""


def test_fail_on_unpriced_exits_1_naming_what_could_not_be_priced(
    nat_plan_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["estimate", nat_plan_file, "--fail-on-unpriced"], capsys)
    assert code == 1  # the input was fine: not the bad-input code
    assert "aws_nat_gateway.egress" in out  # the estimate is still printed
    assert err == "cloudcostguard: 1 resource(s) could not be priced: aws_made_up.thing\n"


def test_fail_on_unpriced_exits_0_when_everything_is_priced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    priced_only = plan(
        change("aws_nat_gateway.egress", ["create"], after={}), providers={"aws": provider("us-east-1")}
    )
    path = _write(tmp_path, orjson.dumps(priced_only))
    code, _, err = _run(["estimate", path, "--fail-on-unpriced", "--format", "json"], capsys)
    assert (code, err) == (0, "")


@pytest.mark.parametrize("arguments", [["estimate", "PLAN"], ["estimate", "/no/such/plan.json"]])
def test_estimate_runs_with_the_cyclic_collector_paused_and_gives_it_back(
    arguments: list[str],
    nat_plan_file: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A one-shot ``estimate`` pauses the collector from parsing its arguments to its exit (what it
    builds holds no cycles); a process that calls ``main`` and goes on — these tests — gets it back,
    after success and after an error alike. Other commands leave it alone."""
    import gc

    from cloudcostguard.cli import estimate

    seen: list[bool] = []
    real_run = estimate.run

    def spying_run(args: argparse.Namespace) -> int:
        seen.append(gc.isenabled())
        return real_run(args)

    monkeypatch.setattr(estimate, "run", spying_run)
    assert gc.isenabled()
    code, _, _ = _run([nat_plan_file if a == "PLAN" else a for a in arguments], capsys)
    assert code == (0 if "PLAN" in arguments else 2)
    assert seen == [False]
    assert gc.isenabled()
    assert _run(["usage", "--help"], capsys)[0] == 0
    assert gc.isenabled()


def test_estimate_of_a_small_plan_imports_only_what_it_needs(nat_plan_file: str) -> None:
    """Start-up cost (issue 8): a small plan is read without msgspec, the default catalog file looked
    for without pathlib, the bundled prices read without importlib.resources (tempfile, zipfile), help
    formatting sized without shutil, and only the pricer modules of the plan's types imported."""
    avoided = (
        "msgspec",
        "pathlib",
        "shutil",
        "tempfile",
        "importlib.resources",
        "cloudcostguard.estimation.aws.s3",
    )
    probe = (
        "import atexit, sys; from cloudcostguard.cli import main; "
        f"atexit.register(lambda: print(sorted(m for m in {avoided!r} if m in sys.modules))); "
        f"main(['estimate', {nat_plan_file!r}, '--format', 'json'])"
    )
    # No CCG_ variable (the suite's own CCG_TEST_DATABASE_URL included): else the pydantic settings load.
    env = {name: value for name, value in os.environ.items() if not name.upper().startswith("CCG_")}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, timeout=TIMEOUT, check=True, env=env
    )
    assert result.stdout.rstrip().endswith(b"\n[]")
    assert b'"totalMonthlyCost"' in result.stdout


@pytest.mark.parametrize("columns", ["50", "132"])
def test_help_is_formatted_as_argparse_would(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudcostguard.cli import build_parser

    monkeypatch.setenv("COLUMNS", columns)
    parser = build_parser("estimate")
    ours = parser.format_help()
    parser.formatter_class = argparse.HelpFormatter
    assert ours == parser.format_help()
    assert max(map(len, ours.splitlines())) <= int(columns)
