#!/usr/bin/env python3
"""Fill the ${NAME} placeholders of the Kubernetes manifests with Terraform outputs.

    terraform -chdir=infrastructure/terraform/envs/aws output -json kubernetes > k8s-values.json
    python3 infrastructure/kubernetes/render.py --values k8s-values.json \\
        --set IMAGE_TAG=$(git rev-parse HEAD) --out build/kubernetes
    kubectl apply -f build/kubernetes/

Standard library only, so CD can run it before installing anything. It refuses a placeholder
without a value, and a value no manifest uses (a renamed output would otherwise pass silently).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def manifests(folder: Path = HERE) -> list[Path]:
    """The manifests kubectl applies, in apply order (spark/ templates are read by spark-submit)."""
    return sorted(folder.glob("*.yaml"))


def placeholders(paths: list[Path]) -> set[str]:
    return {name for path in paths for name in PLACEHOLDER.findall(path.read_text())}


def render(text: str, values: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(name)
        return values[name]

    return PLACEHOLDER.sub(substitute, text)


def render_all(source: Path, values: dict[str, str], out: Path) -> list[Path]:
    paths = manifests(source)
    needed = placeholders(paths)
    missing = sorted(needed - set(values))
    unused = sorted(set(values) - needed)
    if missing:
        raise SystemExit(f"render.py: no value for {', '.join(missing)}")
    if unused:
        raise SystemExit(f"render.py: values no manifest uses: {', '.join(unused)}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        target = out / path.name
        target.write_text(render(path.read_text(), values))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--values", type=Path, required=True, help="JSON object (terraform output -json kubernetes)"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="extra value, repeatable"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the rendered files")
    parser.add_argument("--source", type=Path, default=HERE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    values = json.loads(args.values.read_text())
    if isinstance(values, dict) and "value" in values and "type" in values:
        values = values["value"]  # `terraform output -json` of the whole map wraps it
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set needs NAME=VALUE, got {item!r}")
        values[name] = value
    values = {str(k): str(v) for k, v in values.items()}
    for path in render_all(args.source, values, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
