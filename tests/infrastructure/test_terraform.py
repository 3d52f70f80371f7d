"""Terraform, offline: formatting, validation, `terraform test` with a mocked AWS provider, and a
deliberate typo that validation must catch."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.infrastructure.conftest import (
    REPO,
    TERRAFORM,
    TF_ENVS,
    TF_TESTED_MODULES,
    Terraform,
    output_of,
)

pytestmark = pytest.mark.infra


def test_formatting(terraform: Terraform) -> None:
    result = terraform(TERRAFORM, "fmt", "-check", "-recursive", "-diff", "-no-color")
    assert result.returncode == 0, f"run `terraform fmt -recursive`\n{output_of(result)}"


@pytest.mark.parametrize("root", list(TF_ENVS))
def test_validate(terraform: Terraform, root: str) -> None:
    result = terraform(root, "validate", "-no-color")
    assert result.returncode == 0, output_of(result)


@pytest.mark.parametrize("root", ["envs/aws", *TF_TESTED_MODULES])
def test_terraform_test_with_mocked_provider(terraform: Terraform, root: str) -> None:
    """IAM/IRSA, CI guardrails, EKS and SageMaker plans asserted in memory (tests/*.tftest.hcl)."""
    result = terraform(root, "test", "-no-color")
    assert result.returncode == 0, output_of(result)
    assert " 0 failed" in result.stdout


def _copy_tree(tmp_path: Path) -> Path:
    """The Terraform tree plus the files it reads, at the same relative paths."""
    shutil.copytree(TERRAFORM, tmp_path / "infrastructure" / "terraform")
    queries = Path("fraudstream", "lake", "queries")
    shutil.copytree(REPO / queries, tmp_path / queries)
    shutil.copy(REPO / "fraudstream" / "lake_tables.json", tmp_path / "fraudstream")
    return tmp_path / "infrastructure" / "terraform"


def test_a_typo_in_a_resource_attribute_fails_validation(
    terraform: Terraform, tmp_path: Path
) -> None:
    tree = _copy_tree(tmp_path)
    module = tree / "modules" / "dynamodb" / "main.tf"
    text = module.read_text()
    assert "  billing_mode " in text
    module.write_text(text.replace("  billing_mode ", "  billing_mod ", 1))
    # The copy has the same layout, so the initialised data dir of envs/local serves it too.
    result = terraform(
        tree / "envs" / "local",
        "validate",
        "-no-color",
        data_dir=terraform.data_dir("envs/local"),
    )
    assert result.returncode != 0
    assert "Unsupported argument" in result.stderr and "billing_mod" in result.stderr


def _blocks(text: str, header: str) -> dict[str, str]:
    """Bodies of ``resource "aws_iam_role" "x" {...}`` / ``module "x" {...}`` blocks by name."""
    found = {}
    for match in re.finditer(header + r' "([^"]+)" \{', text):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        found[match.group(1)] = text[match.end() : end]
    return found


def test_every_platform_role_carries_the_workload_boundary() -> None:
    """The deploy role may only create or change roles bounded by the workload boundary
    (modules/github_oidc), so every other role in the configuration must carry it, or the
    deploy role could no longer apply the configuration."""
    modules = TERRAFORM / "modules"
    bounded = set()
    for main in sorted(modules.glob("*/main.tf")):
        if main.parent.name == "github_oidc":
            continue
        roles = _blocks(main.read_text(), r'resource "aws_iam_role"')
        for name, body in roles.items():
            assert "permissions_boundary = var.permissions_boundary" in body, f"{main}: {name}"
        if roles:
            bounded.add(main.parent.name)
    assert bounded == {"eks", "network", "sagemaker", "workload_iam"}
    calls = _blocks((TERRAFORM / "envs" / "aws" / "main.tf").read_text(), "module")
    for name, body in calls.items():
        source = re.search(r'source\s*=\s*"\.\./\.\./modules/([a-z_]+)"', body)
        assert source, name
        if source.group(1) in bounded:
            assert re.search(
                r"permissions_boundary\s*=\s*module\.github_oidc\.workload_boundary_arn", body
            ), f"envs/aws module {name} must pass the workload boundary"
