#!/bin/sh
# SageMaker starts the container as `docker run <image> serve` with the model unpacked in
# /opt/ml/model and expects /ping and /invocations on port 8080. Any other command runs as given.
set -eu
if [ "$#" -eq 0 ] || [ "$1" = "serve" ]; then
  export FRAUDSTREAM_MODEL_DIR="${FRAUDSTREAM_MODEL_DIR:-/opt/ml/model}"
  # Inside a container the server must listen beyond loopback (SageMaker, compose, EKS).
  export FRAUDSTREAM_MODEL_SERVER_HOST="${FRAUDSTREAM_MODEL_SERVER_HOST:-0.0.0.0}"
  # gunicorn processes: SageMaker's own variable when set, else one per CPU (at most 64).
  cpus="$(nproc)"
  [ "${cpus}" -le 64 ] || cpus=64
  export FRAUDSTREAM_MODEL_SERVER_WORKERS="${FRAUDSTREAM_MODEL_SERVER_WORKERS:-${SAGEMAKER_MODEL_SERVER_WORKERS:-${cpus}}}"
  exec fraudstream serve-model
fi
exec "$@"
