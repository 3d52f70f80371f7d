"""Kubernetes manifests: render with Terraform-shaped values, validate strictly against the
cluster's API version, and hold the security and wiring rules the platform relies on."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infrastructure.conftest import KUBERNETES, REPO, TERRAFORM, output_of, run, tool

pytestmark = pytest.mark.infra

KUBERNETES_VERSION = "1.33.0"  # keep in step with kubernetes_version in the Terraform eks module
RENDER = KUBERNETES / "render.py"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
SERVICE_ACCOUNTS = {"spark-driver", "spark-executor", "producer", "model-deploy", "lake-compact"}


def terraform_output_keys() -> set[str]:
    """Keys of output "kubernetes" in envs/aws/outputs.tf (what render.py receives)."""
    text = (TERRAFORM / "envs" / "aws" / "outputs.tf").read_text()
    block = re.search(r'output "kubernetes" \{.*?value = \{(.*?)\n  \}', text, re.S)
    assert block, "output kubernetes not found"
    return set(re.findall(r"^\s+([A-Z][A-Z0-9_]*)\s+=", block.group(1), re.M))


def sample_values() -> dict[str, str]:
    values = {key: f"sample-{key.lower()}" for key in terraform_output_keys()}
    values.update(
        {
            "IMAGE_TAG": "0123456789abcdef",
            "AWS_REGION": "us-east-1",
            "STREAM_SHARDS": "4",
            "LABELS_STREAM_SHARDS": "1",
            "PRODUCER_IMAGE_REPOSITORY": f"{ECR}/fraudstream/producer",
        }
    )
    for key in values:
        if key.endswith("_ROLE_ARN"):
            values[key] = f"arn:aws:iam::123456789012:role/{key.lower()}"
    return values


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rendered")
    values = tmp_path_factory.mktemp("values") / "values.json"
    extra = sample_values()
    image_tag = extra.pop("IMAGE_TAG")
    values.write_text(json.dumps({"sensitive": False, "type": "object", "value": extra}))
    result = subprocess.run(
        [
            sys.executable,
            str(RENDER),
            "--values",
            str(values),
            "--set",
            f"IMAGE_TAG={image_tag}",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, output_of(result)
    shutil.copytree(KUBERNETES / "spark", out / "spark")
    return out


def documents(folder: Path) -> list[dict[str, Any]]:
    docs = []
    for path in sorted(folder.rglob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def pod_specs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    specs = []
    for doc in docs:
        if doc["kind"] == "Pod":
            specs.append(doc["spec"])
        elif doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            specs.append(doc["spec"]["template"]["spec"])
        elif doc["kind"] == "CronJob":
            specs.append(doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return specs


def test_placeholders_are_exactly_the_terraform_outputs_plus_the_image_tag() -> None:
    text = "".join(p.read_text() for p in KUBERNETES.glob("*.yaml"))
    placeholders = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", text))
    assert placeholders == terraform_output_keys() | {"IMAGE_TAG"}


def test_rendered_manifests_validate_strictly(rendered: Path) -> None:
    files = sorted(str(p) for p in rendered.rglob("*.yaml"))
    result = run(
        [tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES_VERSION, *files]
    )
    assert result.returncode == 0, output_of(result)
    assert "${" not in "".join(Path(f).read_text() for f in files)


def test_an_invalid_manifest_field_is_caught(rendered: Path, tmp_path: Path) -> None:
    broken = tmp_path / "producer.yaml"
    text = (rendered / "40-producer.yaml").read_text()
    assert "      serviceAccountName: producer\n" in text
    broken.write_text(
        text.replace("      serviceAccountName: producer\n", "      serviceAcountName: producer\n")
    )
    result = run([tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(broken)])
    assert result.returncode != 0
    assert "serviceAcountName" in result.stdout + result.stderr


def test_render_refuses_a_missing_value(tmp_path: Path) -> None:
    values = tmp_path / "values.json"
    incomplete = sample_values()
    del incomplete["BUCKET"]
    values.write_text(json.dumps(incomplete))
    result = subprocess.run(
        [sys.executable, str(RENDER), "--values", str(values), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "BUCKET" in result.stderr


def test_every_container_is_bounded_and_unprivileged(rendered: Path) -> None:
    specs = pod_specs(documents(rendered))
    assert len(specs) == 4  # producer, lake compaction, Spark driver, Spark executor
    for spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] >= 10000
        for container in spec["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), container["name"]
            assert {"cpu", "memory"} <= set(resources["limits"]), container["name"]
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            assert not container.get("image", "x:tag").endswith(":latest")


def test_service_accounts_carry_irsa_roles_and_only_the_driver_has_api_rights(
    rendered: Path,
) -> None:
    docs = documents(rendered)
    accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    assert set(accounts) == SERVICE_ACCOUNTS
    for account in accounts.values():
        assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
            "arn:aws:iam::"
        )
    bindings = [d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    subjects = {s["name"] for b in bindings for s in b["subjects"]}
    assert subjects == {"spark-driver"}
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_lake_compaction_runs_hourly_alone_with_its_own_role(rendered: Path) -> None:
    jobs = [d for d in documents(rendered) if d["kind"] == "CronJob"]
    assert [j["metadata"]["name"] for j in jobs] == ["lake-compact"]
    spec = jobs[0]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"  # two compactions would only race each other
    minute, hour = spec["schedule"].split()[:2]
    assert hour == "*" and int(minute) >= 10  # after the 10-minute watermark closes the hour
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "lake-compact"
    assert pod["containers"][0]["args"][:2] == ["lake", "compact"]
    settings = (KUBERNETES / "30-configmap.yaml").read_text()
    assert "FRAUDSTREAM_WATERMARK: 10 minutes" in settings


def test_network_policies_deny_by_default(rendered: Path) -> None:
    policies = {
        d["metadata"]["name"]: d["spec"]
        for d in documents(rendered)
        if d["kind"] == "NetworkPolicy"
    }
    deny = policies["default-deny"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    scrape = policies["allow-prometheus-scrape"]["ingress"][0]["ports"]
    assert scrape == [{"protocol": "TCP", "port": 9108}]


def test_spark_submit_script_matches_the_manifests() -> None:
    script = (KUBERNETES / "spark-submit.sh").read_text()
    assert "--deploy-mode cluster" in script
    assert '--master "${master}"' in script and 'master="k8s://' in script
    for account in ("spark-driver", "spark-executor"):
        assert f"serviceAccountName={account}" in script
    driver = yaml.safe_load((KUBERNETES / "spark" / "driver-pod-template.yaml").read_text())
    executor = yaml.safe_load((KUBERNETES / "spark" / "executor-pod-template.yaml").read_text())
    assert "podTemplateContainerName=" + driver["spec"]["containers"][0]["name"] in script
    assert "podTemplateContainerName=" + executor["spec"]["containers"][0]["name"] in script
    assert "spark.driver.port=7078" in script and "spark.blockManager.port=7079" in script
    assert "local:///opt/fraudstream/processor/streaming_job.py" in script
    dry = run(
        ["bash", str(KUBERNETES / "spark-submit.sh"), "submit"],
        env={
            "DRY_RUN": "1",
            "IMAGE": f"{ECR}/fraudstream/processor:abc",
            "AWS_REGION": "us-east-1",
            "K8S_API": "https://example.eks.amazonaws.com",
            "PATH": f"{REPO / 'tests' / 'infrastructure' / 'bin'}:/usr/bin:/bin",
        },
    )
    assert dry.returncode == 0, output_of(dry)
    assert "k8s://https://example.eks.amazonaws.com" in dry.stdout
