"""Helpers for the infrastructure checks: where the tools are, and how to run them offline.

The Python linters live in ``.venv-tools`` (``make tools``; checkov's pins clash with the project's
lock). Terraform is a system binary; its AWS provider comes from a filesystem mirror
(``$TF_PLUGIN_MIRROR``, default ``/opt/tf-plugins``) so nothing is downloaded. Where Terraform or
the mirror is missing the Terraform checks skip and say why; a missing Python linter fails under
CI (``CI=true``) and skips elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infrastructure"
TERRAFORM = INFRA / "terraform"
KUBERNETES = INFRA / "kubernetes"
DOCKER = INFRA / "docker"
MONITORING = INFRA / "monitoring"
WORKFLOWS = REPO / ".github" / "workflows"
TOOLS_BIN = REPO / ".venv-tools" / "bin"

AWS_PROVIDER_VERSION = "5.100.0"
DEFAULT_MIRROR = "/opt/tf-plugins"

# Terraform roots the checks initialise: environments (committed lock file) and the modules that
# carry their own `terraform test` files.
TF_ENVS = ("envs/aws", "envs/local")
TF_TESTED_MODULES = ("modules/eks", "modules/sagemaker", "modules/github_oidc")


def tool(name: str) -> str:
    """Path of a linter from .venv-tools (or PATH); skip, or fail under CI, when absent."""
    candidate = TOOLS_BIN / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} not found in {TOOLS_BIN} or on PATH; run `make tools`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(
    command: Sequence[str],
    *,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run a checker, capturing its output (never raising on a non-zero exit)."""
    return subprocess.run(
        list(command),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


@dataclass(frozen=True)
class Terraform:
    """A terraform binary with an offline environment and one data dir per initialised root."""

    binary: str
    mirror: Path
    env: dict[str, str]
    data_root: Path

    def data_dir(self, root: str) -> Path:
        return self.data_root / root.replace("/", "-")

    def __call__(
        self, root: str | Path, *args: str, data_dir: Path | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        root_path = Path(root) if isinstance(root, Path) else TERRAFORM / root
        name = str(root) if not isinstance(root, Path) else root.name
        env = {**self.env, "TF_DATA_DIR": str(data_dir or self.data_dir(name))}
        return run([self.binary, *args], cwd=root_path, env=env, timeout=timeout)

    def init(self, root: str) -> None:
        args = ["init", "-input=false", "-no-color", f"-plugin-dir={self.mirror}"]
        if root.startswith("envs/"):
            args += ["-backend=false", "-lockfile=readonly"]
        result = self(root, *args)
        assert result.returncode == 0, f"terraform init in {root} failed\n{output_of(result)}"


def _mirror() -> Path:
    return Path(os.environ.get("TF_PLUGIN_MIRROR", DEFAULT_MIRROR))


@pytest.fixture(scope="session")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    """Terraform, initialised offline for every root; skips with the reason when it cannot be."""
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not installed (CI installs 1.11 with hashicorp/setup-terraform)")
    mirror = _mirror()
    provider = mirror / "registry.terraform.io" / "hashicorp" / "aws"
    unpacked = (provider / AWS_PROVIDER_VERSION).is_dir()
    packed = any(provider.glob(f"terraform-provider-aws_{AWS_PROVIDER_VERSION}_*.zip"))
    if not (unpacked or packed):
        pytest.skip(
            f"no hashicorp/aws {AWS_PROVIDER_VERSION} in the provider mirror {mirror}; set "
            "TF_PLUGIN_MIRROR or fill it with `terraform providers mirror` (CI does)"
        )
    home = tmp_path_factory.mktemp("terraform")
    cli_config = home / "terraformrc"
    cli_config.write_text("# offline: providers come from -plugin-dir\n")
    tf = Terraform(
        binary=binary,
        mirror=mirror,
        env={
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "TF_PLUGIN_CACHE_DIR": "",
        },
        data_root=home,
    )
    for root in (*TF_ENVS, *TF_TESTED_MODULES):
        tf.init(root)
    return tf
