"""Print the README's configuration table from the Settings model (the README test checks they agree).

python scripts/settings_table.py
"""

from __future__ import annotations

from cloudcostguard.settings import Settings


def settings_table() -> str:
    lines = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = "(empty)"
        elif field.default is None:
            default = "(unset)"
        else:
            default = f"`{field.default}`"
        lines.append(f"| `CCG_{name.upper()}` | {default} | {field.description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(settings_table())
