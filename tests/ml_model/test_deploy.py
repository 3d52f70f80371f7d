"""``model deploy`` call sequence against the emulator's SageMaker API (moto).

moto 5.2.5 implements CreateModel/CreateEndpointConfig/CreateEndpoint but not UpdateEndpoint,
so the update path runs against an in-process moto server with that one action added (a gap
filled in the emulator, not a mock of boto3: the calls still go over HTTP through botocore).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from fraudstream import aws
from fraudstream.cli import cli
from fraudstream.settings import Settings, load_settings
from ml_model.deploy import CAPTURE_PREFIX, deploy, resource_name, roll_out
from ml_model.errors import DeployError
from tests.conftest import free_port

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/fraudstream-sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraudstream-model:latest"
TAGGED = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraudstream/model-server:0123abc"


def test_first_deploy_creates_everything(local_stack: Settings, model_dir: Path) -> None:
    settings = local_stack.model_copy(update={"sagemaker_endpoint": "fraud-create"})
    result = deploy(settings, model_dir, role_arn=ROLE, image_uri=IMAGE, wait=True)
    assert result.action == "created"
    sagemaker = aws.client("sagemaker", settings)
    endpoint = sagemaker.describe_endpoint(EndpointName="fraud-create")
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == result.endpoint_config_name
    config = sagemaker.describe_endpoint_config(EndpointConfigName=result.endpoint_config_name)
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["DestinationS3Uri"] == f"s3://{settings.bucket}/data-capture/"
    assert CAPTURE_PREFIX == "data-capture"
    assert result.model_data_url.startswith(f"s3://{settings.bucket}/models/")
    assert config["ProductionVariants"][0]["ModelName"] == result.model_name
    model = sagemaker.describe_model(ModelName=result.model_name)
    assert model["PrimaryContainer"]["ModelDataUrl"] == result.model_data_url
    assert model["PrimaryContainer"]["Image"] == IMAGE
    key = result.model_data_url.split(f"s3://{settings.bucket}/", 1)[1]
    s3 = aws.client("s3", settings)
    head = s3.head_object(Bucket=settings.bucket, Key=key)
    assert head["ContentLength"] == (model_dir / "model.tar.gz").stat().st_size
    s3.head_object(Bucket=settings.bucket, Key=key.replace("model.tar.gz", "manifest.json"))
    # deploying the same artifact again changes nothing
    assert deploy(settings, model_dir, role_arn=ROLE, image_uri=IMAGE).action == "unchanged"


def test_redeploy_on_the_emulator_explains_the_missing_update(
    local_stack: Settings, model_dir: Path, tmp_path: Path
) -> None:
    from ml_model.artifact import load_model, write_artifact

    settings = local_stack.model_copy(update={"sagemaker_endpoint": "fraud-emulator-update"})
    deploy(settings, model_dir, role_arn=ROLE, image_uri=IMAGE)
    bundle = load_model(model_dir)
    manifest = {k: v for k, v in bundle.manifest.items() if k != "artifact"}
    write_artifact(bundle.booster, manifest | {"version": bundle.version + "-c"}, tmp_path)
    with pytest.raises(DeployError, match="does not implement UpdateEndpoint"):
        deploy(settings, tmp_path, role_arn=ROLE, image_uri=IMAGE)


def test_missing_role_or_image_or_bucket(local_stack: Settings, model_dir: Path) -> None:
    with pytest.raises(DeployError, match="ROLE_ARN"):
        deploy(local_stack, model_dir, image_uri=IMAGE)
    with pytest.raises(DeployError, match="IMAGE_URI"):
        deploy(local_stack, model_dir, role_arn=ROLE)
    with pytest.raises(DeployError, match="upload failed"):
        deploy(local_stack, model_dir, role_arn=ROLE, image_uri=IMAGE, bucket="no-such-bucket")


def _update_endpoint(self: Any) -> Any:
    from moto.core.responses import ActionResult

    backend = self.sagemaker_backend
    endpoint = backend.endpoints[self._get_param("EndpointName")]
    config = backend.describe_endpoint_config(self._get_param("EndpointConfigName"))
    endpoint.endpoint_config_name = config["EndpointConfigName"]
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    endpoint.data_capture_config = config["DataCaptureConfig"]
    return ActionResult({"EndpointArn": endpoint.arn})


@pytest.fixture
def moto_with_update(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Settings]:
    from moto.sagemaker.responses import SageMakerResponse
    from moto.server import ThreadedMotoServer

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", _update_endpoint, raising=False)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    settings = load_settings(endpoint_url=f"http://127.0.0.1:{port}", state_dir=tmp_path)
    aws.client("s3", settings).create_bucket(Bucket=settings.bucket)
    yield settings
    server.stop()


def test_redeploy_points_the_endpoint_at_the_new_model(
    moto_with_update: Settings, model_dir: Path, tmp_path: Path
) -> None:
    settings = moto_with_update
    first = deploy(settings, model_dir, role_arn=ROLE, image_uri=IMAGE)
    assert first.action == "created"
    # a second model version: same booster, new manifest version
    import json
    import shutil

    from ml_model.artifact import load_model, write_artifact

    bundle = load_model(model_dir)
    manifest = dict(bundle.manifest) | {"version": bundle.version + "-b"}
    manifest.pop("artifact", None)
    write_artifact(bundle.booster, manifest, tmp_path / "v2")
    second = deploy(settings, tmp_path / "v2", role_arn=ROLE, image_uri=IMAGE, wait=True)
    assert second.action == "updated"
    assert second.model_name != first.model_name
    sagemaker = aws.client("sagemaker", settings)
    endpoint = sagemaker.describe_endpoint(EndpointName=settings.sagemaker_endpoint)
    assert endpoint["EndpointConfigName"] == second.endpoint_config_name
    shutil.rmtree(tmp_path / "v2")
    assert json.dumps(second.steps)


def test_roll_out_copies_the_live_configuration(
    moto_with_update: Settings, model_dir: Path
) -> None:
    """What CD runs: an uploaded artefact onto the live endpoint, the rest copied from it."""
    settings = moto_with_update
    first = deploy(settings, model_dir, role_arn=ROLE, image_uri=IMAGE, capture_percent=30)
    url = f"s3://{settings.bucket}/models/v2/model.tar.gz"
    with pytest.raises(DeployError, match=r"s3://<bucket>/models/<version>/model\.tar\.gz"):
        roll_out(settings, f"s3://{settings.bucket}/elsewhere/model.tar.gz")
    with pytest.raises(DeployError, match="no immutable tag"):  # the live image is :latest
        roll_out(settings, url)
    with pytest.raises(DeployError, match="immutable tag, not latest"):
        roll_out(settings, url, image_uri=IMAGE)
    with pytest.raises(DeployError, match="find the artefact failed"):
        roll_out(settings, url, image_uri=TAGGED)
    aws.client("s3", settings).upload_file(
        str(model_dir / "model.tar.gz"), settings.bucket, "models/v2/model.tar.gz"
    )
    run = ["model", "deploy", "--model-data-url", url, "--image-uri", TAGGED, "--wait"]
    env = {"AWS_ENDPOINT_URL": settings.endpoint_url or "", "FRAUDSTREAM_STATE_DIR": "unused"}
    result = CliRunner().invoke(cli, run, env=env)
    assert result.exit_code == 0, result.output
    assert "updated" in result.output

    sagemaker = aws.client("sagemaker", settings)
    live = sagemaker.describe_endpoint(EndpointName=settings.sagemaker_endpoint)
    name = live["EndpointConfigName"]
    assert name != first.endpoint_config_name and name.startswith(settings.sagemaker_endpoint)
    model = sagemaker.describe_model(ModelName=name)
    assert model["ExecutionRoleArn"] == ROLE
    assert model["PrimaryContainer"]["Image"] == TAGGED
    assert model["PrimaryContainer"]["ModelDataUrl"] == url
    assert model["PrimaryContainer"]["Environment"]["MODEL_VERSION"] == "v2"
    old = sagemaker.describe_endpoint_config(EndpointConfigName=first.endpoint_config_name)
    new = sagemaker.describe_endpoint_config(EndpointConfigName=name)
    assert new["DataCaptureConfig"] == old["DataCaptureConfig"]
    assert [v | {"ModelName": ""} for v in new["ProductionVariants"]] == [
        v | {"ModelName": ""} for v in old["ProductionVariants"]
    ]
    # the same artefact and image again change nothing; flags that do not apply are refused
    assert roll_out(settings, url, image_uri=TAGGED).action == "unchanged"
    mixed = CliRunner().invoke(cli, [*run, "--role-arn", ROLE], env=env)
    assert mixed.exit_code == 2 and "copies the live configuration" in mixed.output


def test_resource_names_fit_sagemaker_rules() -> None:
    name = resource_name("fraudstream-xgboost", "20260101T000000Z-abcdef12")
    assert name == "fraudstream-xgboost-20260101T000000Z-abcdef12"
    long = resource_name("e" * 80, "v_1.2")
    assert len(long) <= 63 and long[0].isalnum() and "_" not in long
    assert boto3 is not None
