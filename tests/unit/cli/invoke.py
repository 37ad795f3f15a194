"""Running ``cloudcostguard …`` in-process for tests: exit code, stdout and stderr."""

from __future__ import annotations

import pytest

from cloudcostguard.cli import main


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    out, err = capsys.readouterr()
    code = caught.value.code
    assert isinstance(code, int)
    return code, out, err
