"""Render the settings reference (docs/settings.md) from the Settings model itself, so the
documentation cannot drift from the code: ``python -m fraudstream.settings_doc``."""

from __future__ import annotations

from pydantic import AliasChoices

from fraudstream.settings import ENV_PREFIX, Settings

HEADER = """# Settings

Every component reads one typed, validated settings object (`fraudstream/settings.py`).
Values come from environment variables (below), then an optional dotenv-style file given with
`--settings FILE` or `FRAUDSTREAM_SETTINGS_FILE`, then the defaults. An invalid value stops the
command at start-up with a message naming the setting; an unknown `FRAUDSTREAM_*` key in a
settings file is an error. AWS endpoints per service (`AWS_ENDPOINT_URL_KINESIS`, ...) are
honoured too.

This page is generated: `python -m fraudstream.settings_doc > docs/settings.md`.

| environment variable | default | meaning |
| --- | --- | --- |
"""


def render() -> str:
    rows = []
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        envs = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        env = " / ".join(f"`{e}`" for e in (envs or [ENV_PREFIX + name.upper()]))
        default = info.default
        if hasattr(default, "get_secret_value"):
            shown = "(development key)"
        elif default is None:
            shown = "unset"
        else:
            shown = f"`{default}`"
        rows.append(f"| {env} | {shown} | {info.description} |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
