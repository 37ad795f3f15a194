"""Write operator/cloudcostguard/settings_defaults.py: every setting's default, from the Settings model.

    python scripts/settings_defaults.py          (make settings-defaults; a test fails on drift)

The CLI's ``estimate`` uses these when no ``CCG_`` variable is set, so that pricing one plan does not
import pydantic (about 140 ms of a 250 ms run): the values are the model's own, generated, never typed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from cloudcostguard.settings import Settings

OUT = Path(__file__).resolve().parents[1] / "operator" / "cloudcostguard" / "settings_defaults.py"


def settings_defaults_module() -> str:
    lines = [
        '"""Every setting\'s default, generated from ``settings.Settings`` by `make settings-defaults`.',
        "",
        "Do not edit: a test compares this file with the model. Read by ``cli.common.cli_settings``.",
        '"""',
        "",
        "from decimal import Decimal",
        "from typing import Any",
        "",
        "DEFAULTS: dict[str, Any] = {",
    ]
    # model_construct: the declared defaults, not this machine's CCG_ environment.
    for name, value in Settings.model_construct().model_dump().items():
        lines.append(f"    {_literal(name)}: {_literal(value)},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _literal(value: object) -> str:
    """Python source for a default, in the project's format (double quotes, as ruff writes them)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        return f'Decimal("{value}")'
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    raise TypeError(f"no literal for the default {value!r}")


if __name__ == "__main__":
    OUT.write_text(settings_defaults_module())
    print(f"wrote {OUT}")
