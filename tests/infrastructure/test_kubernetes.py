"""Kubernetes manifests: render with Terraform-shaped values, validate strictly against the
cluster's API version, and hold the security and wiring rules the platform relies on."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from fraudstream.cli import cli
from fraudstream.settings import load_settings
from tests.infrastructure.conftest import KUBERNETES, REPO, TERRAFORM, output_of, run, tool

pytestmark = pytest.mark.infra

KUBERNETES_VERSION = "1.33.0"  # keep in step with kubernetes_version in the Terraform eks module
RENDER = KUBERNETES / "render.py"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
SERVICE_ACCOUNTS = {
    "spark-driver",
    "spark-executor",
    "producer",
    "model-deploy",
    "lake-compact",
    "model-retrain",
}


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
            "PROCESSOR_CELLS": "2",
            "PRODUCER_IMAGE_REPOSITORY": f"{ECR}/fraudstream/producer",
            "PROCESSOR_IMAGE_REPOSITORY": f"{ECR}/fraudstream/processor",
            "BUCKET": "fraudstream-lake-test",
            "VPC_CIDR": "10.40.0.0/16",
            "SERVICE_CIDR": "172.20.0.0/16",
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
    assert len(specs) == 5  # producer, compaction, retraining, Spark driver, Spark executor
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
    jobs = {d["metadata"]["name"]: d for d in documents(rendered) if d["kind"] == "CronJob"}
    assert set(jobs) == {"lake-compact", "model-retrain"}
    spec = jobs["lake-compact"]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"  # two compactions would only race each other
    minute, hour = spec["schedule"].split()[:2]
    assert hour == "*" and int(minute) >= 10  # after the 10-minute watermark closes the hour
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "lake-compact"
    assert pod["containers"][0]["args"][:2] == ["lake", "compact"]
    settings = (KUBERNETES / "30-configmap.yaml").read_text()
    assert "FRAUDSTREAM_WATERMARK: 10 minutes" in settings


def test_retraining_runs_weekly_alone_and_registers_only_in_the_challenger_prefix(
    rendered: Path,
) -> None:
    job = next(
        d
        for d in documents(rendered)
        if d["kind"] == "CronJob" and d["metadata"]["name"] == "model-retrain"
    )
    spec = job["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    minute, _hour, day, month, weekday = spec["schedule"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit() and minute != "17"  # not at compaction
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "model-retrain"
    container = pod["containers"][0]
    assert container["image"] == f"{ECR}/fraudstream/processor:0123456789abcdef"
    assert container["command"] == ["/opt/venv/bin/fraudstream"]
    args = container["args"]
    assert args[:2] == ["train", "--from-lake"]
    option = dict(zip(args[2::2], args[3::2], strict=True))
    assert option["--champion"] == "s3://fraudstream-lake-test/models/champion/"
    assert option["--challenger-dir"] == "s3://fraudstream-lake-test/models/challenger/"
    assert option["--since"].endswith("d")
    # the options exist on the command the image runs
    helped = CliRunner().invoke(cli, ["train", "--help"])
    assert all(name in helped.output for name in option)
    terraform = (TERRAFORM / "modules" / "workload_iam" / "variables.tf").read_text()
    assert 'default     = "models/challenger/"' in terraform
    assert 'default     = "models/champion/"' in terraform
    dockerfile = (REPO / "infrastructure" / "docker" / "processor" / "Dockerfile").read_text()
    assert '--select "/src[model,query]"' in dockerfile  # xgboost and the lake query engine


def test_jobs_that_use_s3_may_reach_its_gateway_endpoint(rendered: Path) -> None:
    """Before: compaction's pods matched no rule allowing public HTTPS, where S3's gateway
    endpoint answers, so the CronJob could not reach the lake."""
    for name in ("fraudstream-lake-compact", "fraudstream-model-retrain"):
        reached = {
            b["cidr"] for b in https_destinations(rendered, {"app.kubernetes.io/name": name})
        }
        assert "0.0.0.0/0" in reached, name


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
    assert "FRAUDSTREAM_HASH_RANGE=0/1" in dry.stdout
    assert "driver.pod.name=fraudstream-processor-driver" in dry.stdout


def test_spark_submit_runs_one_application_per_cell(rendered: Path) -> None:
    """CELLS=n submits n applications, cell i owning hash range i/n with a driver of its own;
    the rendered ConfigMap carries the count Terraform set."""
    processor = next(
        d for d in documents(rendered) if d["metadata"]["name"] == "fraudstream-processor"
    )
    assert processor["kind"] == "ConfigMap" and processor["data"] == {"cells": "2"}
    env = {
        "DRY_RUN": "1",
        "IMAGE": f"{ECR}/fraudstream/processor:abc",
        "AWS_REGION": "us-east-1",
        "K8S_API": "https://example.eks.amazonaws.com",
        "PATH": f"{REPO / 'tests' / 'infrastructure' / 'bin'}:/usr/bin:/bin",
    }
    dry = run(["bash", str(KUBERNETES / "spark-submit.sh"), "submit"], env={**env, "CELLS": "3"})
    assert dry.returncode == 0, output_of(dry)
    commands = [line for line in dry.stdout.splitlines() if line.startswith("spark-submit")]
    assert len(commands) == 3
    for index, command in enumerate(commands):
        assert f"FRAUDSTREAM_HASH_RANGE={index}/3" in command
        assert f"driver.pod.name=fraudstream-processor-{index}-of-3-driver" in command
        assert f"spark.executorEnv.FRAUDSTREAM_HASH_RANGE={index}/3" in command
    refused = run(
        ["bash", str(KUBERNETES / "spark-submit.sh"), "submit"], env={**env, "CELLS": "0"}
    )
    assert refused.returncode != 0 and "CELLS must be 1-256" in refused.stderr


def container_environment(rendered: Path, template: str) -> dict[str, str]:
    """What a container of a pod template sees: its ConfigMaps (envFrom), then its own env."""
    configmaps = {
        d["metadata"]["name"]: d["data"] for d in documents(rendered) if d["kind"] == "ConfigMap"
    }
    pod = yaml.safe_load((rendered / "spark" / template).read_text())
    container = pod["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]])
    env.update({item["name"]: item["value"] for item in container.get("env", [])})
    return env


def test_the_driver_serves_metrics_where_probes_and_prometheus_reach_it(
    rendered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kubelet probes and Prometheus connect to the pod's IP, never to its loopback."""
    for name in [n for n in os.environ if n.startswith(("FRAUDSTREAM_", "AWS_"))]:
        monkeypatch.delenv(name)
    for name, value in container_environment(rendered, "driver-pod-template.yaml").items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    address = ipaddress.ip_address(settings.metrics_host)
    assert address.is_unspecified, f"the driver's metrics bind {address}: probes cannot reach it"
    driver = yaml.safe_load((rendered / "spark" / "driver-pod-template.yaml").read_text())
    container = driver["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == settings.metrics_port
    assert container["livenessProbe"]["httpGet"]["port"] == "metrics"
    assert driver["metadata"]["annotations"]["prometheus.io/port"] == str(settings.metrics_port)


def pod_labels(rendered: Path) -> dict[str, dict[str, str]]:
    """Labels of the producer's pods and of the Spark driver and executors."""
    labels = {}
    for doc in documents(rendered):
        if doc["kind"] == "Deployment":
            labels[doc["metadata"]["name"]] = doc["spec"]["template"]["metadata"]["labels"]
        elif doc["kind"] == "Pod":
            labels[doc["metadata"]["labels"]["app.kubernetes.io/component"]] = doc["metadata"][
                "labels"
            ]
    return labels


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def https_destinations(rendered: Path, labels: dict[str, str]) -> list[dict[str, Any]]:
    """The ipBlocks a pod with ``labels`` may reach on 443 (a rule without ``to`` reaches any
    address: written as 0.0.0.0/0 with no exceptions)."""
    found = []
    for doc in documents(rendered):
        if doc["kind"] != "NetworkPolicy" or not selects(doc["spec"]["podSelector"], labels):
            continue
        for rule in doc["spec"].get("egress", []):
            ports = rule.get("ports")
            if ports is not None and not any(p.get("port") == 443 for p in ports):
                continue
            peers = rule.get("to") or [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
            found += [peer["ipBlock"] for peer in peers if "ipBlock" in peer]
    return found


def test_https_egress_never_reaches_metadata_or_private_networks_beyond_the_vpc(
    rendered: Path,
) -> None:
    """Before: one rule let every pod reach any address on 443."""
    inside = {"10.40.0.0/16", "172.20.0.0/16"}  # the VPC and the Service range (sample values)
    blocked = [ipaddress.ip_network(c) for c in ("169.254.0.0/16", "10.0.0.0/8", "172.16.0.0/12")]
    pods = pod_labels(rendered)
    assert set(pods) == {"producer", "driver", "executor"}
    for name, labels in pods.items():
        for block in https_destinations(rendered, labels):
            if block["cidr"] in inside:
                continue
            excepted = [ipaddress.ip_network(c) for c in block.get("except", [])]
            for network in blocked:
                assert any(network.subnet_of(e) for e in excepted), (name, block)
    producer = https_destinations(rendered, pods["producer"])
    assert {b["cidr"] for b in producer} == inside, "the producer needs only the VPC's endpoints"
    driver = {b["cidr"] for b in https_destinations(rendered, pods["driver"])}
    assert inside < driver, "the driver reaches the VPC, the API and S3/DynamoDB"
