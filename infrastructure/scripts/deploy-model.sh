#!/usr/bin/env bash
# Roll a new model version onto the SageMaker endpoint without downtime: create a model from the
# artefact, an endpoint configuration copied from the live one (same instances, data capture,
# encryption) with only the model swapped, then UpdateEndpoint and wait until it is InService.
# SageMaker keeps serving the old variant until the new one is healthy.
#
#   infrastructure/scripts/deploy-model.sh s3://<lake bucket>/models/<version>/model.tar.gz
#
# Runs with the CD deploy role or in-cluster as the model-deploy service account (IRSA); both may
# create models and configurations named <endpoint>-* and update only this endpoint.
# Needs: aws CLI v2, jq. Optional: FRAUDSTREAM_SAGEMAKER_ENDPOINT (default fraudstream-xgboost),
# MODEL_IMAGE (a new model-server image, ECR URI with tag; default: keep the live one).
set -euo pipefail

die() { echo "deploy-model.sh: $*" >&2; exit 1; }

model_url="${1:-}"
endpoint="${FRAUDSTREAM_SAGEMAKER_ENDPOINT:-fraudstream-xgboost}"
[[ "${model_url}" =~ ^s3://[a-z0-9.-]+/models/.+\.tar\.gz$ ]] \
  || die "give the artefact as s3://<bucket>/models/<version>/model.tar.gz (got '${model_url}')"
command -v jq >/dev/null || die "jq is required"

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
version="$(date -u +%Y%m%d-%H%M%S)"
name="${endpoint}-${version}"

current_config="$(aws sagemaker describe-endpoint --endpoint-name "${endpoint}" \
  --query EndpointConfigName --output text)"
aws sagemaker describe-endpoint-config --endpoint-config-name "${current_config}" > "${work}/config.json"
current_model="$(jq -r '.ProductionVariants[0].ModelName' "${work}/config.json")"
aws sagemaker describe-model --model-name "${current_model}" > "${work}/model.json"
aws s3 ls "${model_url}" >/dev/null || die "no object at ${model_url}"

echo "model ${current_model} -> ${name}"
image="${MODEL_IMAGE:-$(jq -r '.PrimaryContainer.Image' "${work}/model.json")}"
[[ "${image}" != *:latest ]] || die "MODEL_IMAGE must carry an immutable tag, not latest"
echo "  artefact ${model_url}"
jq --arg name "${name}" --arg url "${model_url}" --arg image "${image}" '{
    ModelName: $name,
    ExecutionRoleArn: .ExecutionRoleArn,
    PrimaryContainer: (.PrimaryContainer | .ModelDataUrl = $url | .Image = $image | del(.ModelDataSource)),
    VpcConfig: .VpcConfig,
    EnableNetworkIsolation: .EnableNetworkIsolation
  } | with_entries(select(.value != null))' "${work}/model.json" > "${work}/new-model.json"
aws sagemaker create-model --cli-input-json "file://${work}/new-model.json" >/dev/null

jq --arg name "${name}" '{
    EndpointConfigName: $name,
    ProductionVariants: [.ProductionVariants[] | .ModelName = $name],
    DataCaptureConfig: .DataCaptureConfig,
    KmsKeyId: .KmsKeyId
  } | with_entries(select(.value != null))' "${work}/config.json" > "${work}/new-config.json"
aws sagemaker create-endpoint-config --cli-input-json "file://${work}/new-config.json" >/dev/null

aws sagemaker update-endpoint --endpoint-name "${endpoint}" --endpoint-config-name "${name}" \
  --retain-all-variant-properties >/dev/null
echo "waiting for ${endpoint} to be InService on ${name} ..."
aws sagemaker wait endpoint-in-service --endpoint-name "${endpoint}"
echo "endpoint ${endpoint} serves ${name}; previous configuration: ${current_config}"
