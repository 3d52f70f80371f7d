"""Deploy a trained artifact to a SageMaker endpoint with boto3 (``fraudstream model deploy``).

Steps, each idempotent so a re-run after a failure continues where it stopped:

1. upload ``model.tar.gz`` and ``manifest.json`` to ``s3://<bucket>/models/<version>/`` (the
   prefix the Terraform-made SageMaker role may read);
2. create the SageMaker model ``<endpoint>-<version>`` (image + model data);
3. create the endpoint config ``<endpoint>-<version>``: one production variant and data capture
   of requests and responses to ``s3://<bucket>/data-capture/``;
4. create the endpoint, or point the existing one at the new config (``UpdateEndpoint``:
   SageMaker swaps instances without downtime); optionally wait until it is in service.

Names derive from the model version, so deploying the same artifact twice changes nothing.

:func:`roll_out` is what CD runs (``fraudstream model deploy --model-data-url``): an artefact
already in ``s3://<bucket>/models/<version>/`` goes onto the live endpoint with everything else
copied from the live configuration (role, network, instances, data capture, KMS key), so
Terraform's settings carry over; only the model data and, if given, the image change.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml_model.artifact import ARCHIVE, MANIFEST_FILE, load_model
from ml_model.errors import DeployError

if TYPE_CHECKING:
    from fraudstream.settings import Settings

MODELS_PREFIX = "models"  # the lake bucket prefix the SageMaker role may read (Terraform)
CAPTURE_PREFIX = "data-capture"  # ... and may write captured requests to
VARIANT = "primary"
MODEL_URL = re.compile(
    r"^s3://(?P<bucket>[a-z0-9.-]+)/(?P<key>models/(?P<version>[^/]+)/.+\.tar\.gz)$"
)


@dataclass
class DeployResult:
    endpoint_name: str
    model_name: str
    endpoint_config_name: str
    model_data_url: str
    version: str
    action: str  # "created", "updated" or "unchanged"
    steps: list[str] = field(default_factory=list)


def resource_name(endpoint: str, version: str) -> str:
    """A SageMaker resource name (letters, digits, hyphens; at most 63 characters)."""
    raw = re.sub(r"[^A-Za-z0-9-]+", "-", f"{endpoint}-{version}").strip("-")
    return raw[-63:].lstrip("-")


def _code(error: Exception) -> str:
    response = getattr(error, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _missing(error: Exception) -> bool:
    """SageMaker answers "not found" for describe calls with a ValidationException."""
    return _code(error) in ("ValidationException", "ValidationError", "ResourceNotFound")


def deploy(
    settings: Settings,
    model_dir: str | Path,
    *,
    endpoint_name: str | None = None,
    bucket: str | None = None,
    role_arn: str | None = None,
    image_uri: str | None = None,
    instance_type: str | None = None,
    instance_count: int | None = None,
    capture_percent: int | None = None,
    wait: bool = False,
    wait_delay_seconds: int = 30,
    say: Callable[[str], None] | None = None,
    s3: Any = None,
    sagemaker: Any = None,
) -> DeployResult:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError

    from fraudstream import aws

    tell = say or (lambda _text: None)
    endpoint = endpoint_name or settings.sagemaker_endpoint
    bucket = bucket or settings.bucket
    role = role_arn or settings.sagemaker_role_arn
    image = image_uri or settings.sagemaker_image_uri
    if not role:
        raise DeployError(
            "no SageMaker execution role: pass --role-arn or set FRAUDSTREAM_SAGEMAKER_ROLE_ARN"
        )
    if not image:
        raise DeployError(
            "no inference image: pass --image-uri or set FRAUDSTREAM_SAGEMAKER_IMAGE_URI (the "
            "region's built-in XGBoost 3.0 image, or the project's serve-model image in ECR)"
        )
    folder = Path(model_dir)
    bundle = load_model(folder)  # checks the archive against its manifest before shipping it
    version = bundle.version
    archive = folder / ARCHIVE
    manifest_path = folder / MANIFEST_FILE
    s3 = s3 or aws.client("s3", settings)
    sagemaker = sagemaker or aws.client("sagemaker", settings)
    name = resource_name(endpoint, version)
    prefix = f"{MODELS_PREFIX}/{version}"
    model_data = f"s3://{bucket}/{prefix}/{ARCHIVE}"
    result = DeployResult(endpoint, name, name, model_data, version, "unchanged")
    step = "upload"
    try:
        s3.upload_file(str(archive), bucket, f"{prefix}/{ARCHIVE}")
        if manifest_path.is_file():
            s3.upload_file(str(manifest_path), bucket, f"{prefix}/{MANIFEST_FILE}")
        result.steps.append(f"uploaded {model_data}")
        tell(f"uploaded {model_data}")

        step = "create model"
        try:
            sagemaker.describe_model(ModelName=name)
            result.steps.append(f"model {name} exists")
        except ClientError as error:
            if not _missing(error):
                raise
            sagemaker.create_model(
                ModelName=name,
                ExecutionRoleArn=role,
                PrimaryContainer={
                    "Image": image,
                    "ModelDataUrl": model_data,
                    "Environment": {
                        # our serve-model image binds loopback unless told otherwise
                        "FRAUDSTREAM_MODEL_SERVER_HOST": "0.0.0.0",  # noqa: S104 - in-container
                        "MODEL_VERSION": version,
                    },
                },
                Tags=[{"Key": "model_version", "Value": version}],
            )
            result.steps.append(f"created model {name}")
            tell(f"created model {name}")

        step = "create endpoint config"
        try:
            sagemaker.describe_endpoint_config(EndpointConfigName=name)
            result.steps.append(f"endpoint config {name} exists")
        except ClientError as error:
            if not _missing(error):
                raise
            percent = (
                settings.sagemaker_capture_percent if capture_percent is None else capture_percent
            )
            sagemaker.create_endpoint_config(
                EndpointConfigName=name,
                ProductionVariants=[
                    {
                        "VariantName": VARIANT,
                        "ModelName": name,
                        "InitialInstanceCount": instance_count or settings.sagemaker_instance_count,
                        "InstanceType": instance_type or settings.sagemaker_instance_type,
                        "InitialVariantWeight": 1.0,
                    }
                ],
                DataCaptureConfig={
                    "EnableCapture": percent > 0,
                    "InitialSamplingPercentage": max(percent, 1),
                    "DestinationS3Uri": f"s3://{bucket}/{CAPTURE_PREFIX}/",
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                    "CaptureContentTypeHeader": {
                        "CsvContentTypes": ["text/csv"],
                        "JsonContentTypes": ["application/json"],
                    },
                },
                Tags=[{"Key": "model_version", "Value": version}],
            )
            result.steps.append(f"created endpoint config {name}")
            tell(f"created endpoint config {name}")

        step = "create or update endpoint"
        try:
            current = sagemaker.describe_endpoint(EndpointName=endpoint)
        except ClientError as error:
            if not _missing(error):
                raise
            sagemaker.create_endpoint(
                EndpointName=endpoint,
                EndpointConfigName=name,
                Tags=[{"Key": "model_version", "Value": version}],
            )
            result.action = "created"
        else:
            if current.get("EndpointConfigName") != name:
                try:
                    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=name)
                except ClientError as error:
                    if settings.is_local and _code(error) in ("500", "InternalFailure"):
                        raise DeployError(
                            "the local emulator does not implement UpdateEndpoint (moto "
                            f"5.2.5); model {name} and its endpoint config exist, endpoint "
                            f"{endpoint} still serves {current.get('EndpointConfigName')}"
                        ) from error
                    raise
                result.action = "updated"
        result.steps.append(f"endpoint {endpoint} {result.action}")
        tell(f"endpoint {endpoint} {result.action} (config {name})")

        if wait and result.action != "unchanged":
            step = "wait for endpoint"
            sagemaker.get_waiter("endpoint_in_service").wait(
                EndpointName=endpoint,
                WaiterConfig={"Delay": wait_delay_seconds, "MaxAttempts": 120},
            )
            result.steps.append(f"endpoint {endpoint} in service")
    except (ClientError, BotoCoreError, Boto3Error, WaiterError, OSError) as error:
        raise DeployError(f"{step} failed: {error}") from error
    return result


def describe(result: DeployResult) -> str:
    return json.dumps(result.__dict__, indent=2)


def roll_out(
    settings: Settings,
    model_data_url: str,
    *,
    endpoint_name: str | None = None,
    image_uri: str | None = None,
    wait: bool = False,
    wait_delay_seconds: int = 30,
    say: Callable[[str], None] | None = None,
) -> DeployResult:
    """Put the artefact at ``model_data_url`` on the live endpoint: a model and an endpoint
    config copied from the live ones with the model data (and image) swapped, then
    ``UpdateEndpoint``; SageMaker keeps serving the old variant until the new one is healthy."""
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError

    from fraudstream import aws

    tell = say or (lambda _text: None)
    endpoint = endpoint_name or settings.sagemaker_endpoint
    match = MODEL_URL.match(model_data_url)
    if match is None:
        raise DeployError(
            "give the artefact as s3://<bucket>/models/<version>/model.tar.gz "
            f"(got {model_data_url!r})"
        )
    if image_uri is not None and image_uri.endswith(":latest"):
        raise DeployError(f"the image must carry an immutable tag, not latest: {image_uri}")
    s3 = aws.client("s3", settings)
    sagemaker = aws.client("sagemaker", settings)
    step = "read the live endpoint"
    try:
        live = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        config = sagemaker.describe_endpoint_config(EndpointConfigName=live)
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        image = image_uri or model["PrimaryContainer"]["Image"]
        if image.endswith(":latest"):
            raise DeployError(f"the live image has no immutable tag ({image}): pass --image-uri")
        step = "find the artefact"
        s3.head_object(Bucket=match["bucket"], Key=match["key"])
        # a new image for the same artefact is a new model: the name carries both
        digest = hashlib.sha256(f"{model_data_url} {image}".encode()).hexdigest()[:8]
        version = match["version"]
        name = resource_name(endpoint, f"{version}-{digest}")
        result = DeployResult(endpoint, name, name, model_data_url, version, "unchanged")
        tell(f"model {model['ModelName']} -> {name} (image {image})")
        step = "create model"
        if not _exists(sagemaker.describe_model, ModelName=name):
            container = {
                k: v for k, v in model["PrimaryContainer"].items() if k != "ModelDataSource"
            }
            environment = dict(container.get("Environment") or {})
            if "MODEL_VERSION" in environment:
                environment["MODEL_VERSION"] = version
            copied = {k: model[k] for k in ("VpcConfig", "EnableNetworkIsolation") if model.get(k)}
            sagemaker.create_model(
                ModelName=name,
                ExecutionRoleArn=model["ExecutionRoleArn"],
                PrimaryContainer=container
                | {"Image": image, "ModelDataUrl": model_data_url, "Environment": environment},
                Tags=[{"Key": "model_version", "Value": version}],
                **copied,
            )
            result.steps.append(f"created model {name}")
        step = "create endpoint config"
        if not _exists(sagemaker.describe_endpoint_config, EndpointConfigName=name):
            variants = [v | {"ModelName": name} for v in config["ProductionVariants"]]
            copied = {k: config[k] for k in ("DataCaptureConfig", "KmsKeyId") if config.get(k)}
            sagemaker.create_endpoint_config(
                EndpointConfigName=name,
                ProductionVariants=variants,
                Tags=[{"Key": "model_version", "Value": version}],
                **copied,
            )
            result.steps.append(f"created endpoint config {name}")
        step = "update endpoint"
        if live != name:
            sagemaker.update_endpoint(
                EndpointName=endpoint, EndpointConfigName=name, RetainAllVariantProperties=True
            )
            result.action = "updated"
            tell(f"endpoint {endpoint} moves from {live} to {name}")
        if wait and result.action == "updated":
            step = "wait for endpoint"
            tell(f"waiting for {endpoint} to be InService ...")
            sagemaker.get_waiter("endpoint_in_service").wait(
                EndpointName=endpoint,
                WaiterConfig={"Delay": wait_delay_seconds, "MaxAttempts": 120},
            )
            result.steps.append(f"endpoint {endpoint} in service")
    except (ClientError, BotoCoreError, WaiterError) as error:
        raise DeployError(f"{step} failed: {error}") from error
    return result


def _exists(describe: Callable[..., Any], **name: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        describe(**name)
    except ClientError as error:
        if not _missing(error):
            raise
        return False
    return True
