#!/usr/bin/env bash
# Run the processor on EKS in Spark's cluster mode: spark-submit asks the Kubernetes API for a
# driver pod (image from ECR, service account spark-driver), and the driver starts executors.
#
#   infrastructure/kubernetes/spark-submit.sh submit     # start the job
#   infrastructure/kubernetes/spark-submit.sh rollout    # stop the running driver, then submit
#   infrastructure/kubernetes/spark-submit.sh kill       # stop the job
#   infrastructure/kubernetes/spark-submit.sh status
#
# Needs: spark-submit 4.3 (pip install pyspark==4.3.0, plus Java 17+), kubectl with a context for
# the cluster (aws eks update-kubeconfig --name fraudstream), and these variables:
#   IMAGE       processor image, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/fraudstream/processor:<git sha>
#   AWS_REGION  region of the lake (for s3a)
# Optional: K8S_API (default: the current kubectl context's server), EXECUTORS (default 4, per
#   cell), CELLS (default: the fraudstream-processor ConfigMap's "cells", 1 without it),
#   NAMESPACE (fraudstream), DRY_RUN=1 (print the spark-submit commands instead of running them).
#
# CELLS=n runs the processor as n Spark applications, cell i with FRAUDSTREAM_HASH_RANGE=i/n and
# driver pod fraudstream-processor-<i>-of-<n>-driver (one cell keeps fraudstream-processor-driver);
# changing n starts new checkpoints with empty state (docs/deploy.md, "Cells").
# Restarting is safe: each query resumes from its checkpoint in s3a://<bucket>/checkpoints/ at
# the last committed Kinesis sequence numbers, and the sinks are idempotent.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
namespace="${NAMESPACE:-fraudstream}"
executors="${EXECUTORS:-4}"
drivers_selector="app.kubernetes.io/name=fraudstream-processor,app.kubernetes.io/component=driver"

die() { echo "spark-submit.sh: $*" >&2; exit 1; }

cell_count() {
  local count="${CELLS:-}"
  if [[ -z "${count}" ]]; then
    if ! count="$(kubectl --namespace "${namespace}" get configmap fraudstream-processor \
      --output 'jsonpath={.data.cells}' 2>/dev/null)"; then
      [[ "${DRY_RUN:-0}" == "1" ]] || die "cannot read ConfigMap fraudstream-processor: set CELLS or apply the manifests"
      count=1
    fi
  fi
  [[ "${count}" =~ ^[1-9][0-9]*$ && "${count}" -le 256 ]] || die "CELLS must be 1-256, got '${count}'"
  echo "${count}"
}

# The driver pod of cell $1 of $2 (one cell keeps the name it had before cells).
driver_name() {
  if [[ "$2" == "1" ]]; then
    echo "fraudstream-processor-driver"
  else
    echo "fraudstream-processor-$1-of-$2-driver"
  fi
}

api_server() {
  if [[ -n "${K8S_API:-}" ]]; then
    echo "${K8S_API}"
  else
    kubectl config view --minify --output 'jsonpath={.clusters[0].cluster.server}'
  fi
}

# Every processor driver pod, of any cell count.
drivers() {
  kubectl --namespace "${namespace}" get pods -l "${drivers_selector}" --output name 2>/dev/null \
    | sed 's|^pod/||' || true
}

submit() {
  local count cell
  count="$(cell_count)"
  for ((cell = 0; cell < count; cell++)); do
    submit_cell "${cell}" "${count}"
  done
}

submit_cell() {
  local index="$1" count="$2" driver_pod
  driver_pod="$(driver_name "${index}" "${count}")"
  [[ -n "${IMAGE:-}" ]] || die "set IMAGE to the processor image (ECR URI with tag)"
  [[ -n "${AWS_REGION:-}" ]] || die "set AWS_REGION"
  [[ "${IMAGE}" != *:latest ]] || die "IMAGE must carry an immutable tag (the git SHA), not latest"
  local master
  master="k8s://$(api_server)"
  local -a command=(
    spark-submit
    --master "${master}"
    --deploy-mode cluster
    --name "${driver_pod%-driver}"
    --conf "spark.kubernetes.namespace=${namespace}"
    --conf "spark.kubernetes.container.image=${IMAGE}"
    --conf spark.kubernetes.container.image.pullPolicy=IfNotPresent
    --conf "spark.kubernetes.driver.pod.name=${driver_pod}"
    --conf spark.kubernetes.authenticate.driver.serviceAccountName=spark-driver
    --conf spark.kubernetes.authenticate.executor.serviceAccountName=spark-executor
    --conf "spark.kubernetes.driver.podTemplateFile=${here}/spark/driver-pod-template.yaml"
    --conf "spark.kubernetes.executor.podTemplateFile=${here}/spark/executor-pod-template.yaml"
    --conf spark.kubernetes.driver.podTemplateContainerName=driver
    --conf spark.kubernetes.executor.podTemplateContainerName=executor
    --conf spark.kubernetes.submission.waitAppCompletion=false
    --conf "spark.kubernetes.driver.label.app.kubernetes.io/version=${IMAGE##*:}"
    --conf "spark.kubernetes.driver.label.fraudstream.io/cell=${index}-of-${count}"
    --conf "spark.kubernetes.driverEnv.FRAUDSTREAM_HASH_RANGE=${index}/${count}"
    --conf "spark.executorEnv.FRAUDSTREAM_HASH_RANGE=${index}/${count}"
    --conf "spark.executor.instances=${executors}"
    --conf spark.driver.cores=1
    --conf spark.kubernetes.driver.limit.cores=2
    --conf spark.driver.memory=2g
    --conf spark.driver.memoryOverhead=2g
    --conf "spark.driver.extraJavaOptions=-XX:+ExplicitGCInvokesConcurrent -XX:TieredStopAtLevel=1 -Xms2g -XX:+AlwaysPreTouch"
    --conf spark.executor.cores=2
    --conf spark.kubernetes.executor.limit.cores=2
    --conf spark.executor.memory=4g
    --conf spark.executor.memoryOverhead=1g
    --conf spark.driver.port=7078
    --conf spark.blockManager.port=7079
    --conf spark.hadoop.fs.s3a.aws.credentials.provider=software.amazon.awssdk.auth.credentials.WebIdentityTokenFileCredentialsProvider
    --conf "spark.hadoop.fs.s3a.endpoint.region=${AWS_REGION}"
    # No s3a encryption setting: objects get the bucket's default customer key (an explicit
    # SSE-KMS without a key id would use the AWS-managed aws/s3 key instead).
    local:///opt/fraudstream/processor/streaming_job.py
  )
  if [[ "${DRY_RUN:-0}" == "1" ]]; then
    printf '%q ' "${command[@]}"
    echo
    return
  fi
  "${command[@]}"
  echo "submitted cell ${index}/${count} of ${IMAGE}; follow it with: kubectl -n ${namespace} logs -f ${driver_pod}"
}

# Stop every processor driver, whatever cell count started it.
kill_drivers() {
  local -a running
  mapfile -t running < <(drivers)
  if [[ ${#running[@]} -eq 0 ]]; then
    echo "no processor driver pod in ${namespace}"
    return
  fi
  local master pod
  master="k8s://$(api_server)"
  for pod in "${running[@]}"; do
    spark-submit --master "${master}" --kill "${namespace}:${pod}"
  done
  for pod in "${running[@]}"; do
    kubectl --namespace "${namespace}" wait --for=delete "pod/${pod}" --timeout=300s
  done
}

case "${1:-}" in
  submit)
    [[ -z "$(drivers)" ]] || die "processor driver pods exist ($(drivers | tr '\n' ' ')); use rollout to replace them"
    submit
    ;;
  rollout)
    kill_drivers
    submit
    ;;
  kill) kill_drivers ;;
  status)
    kubectl --namespace "${namespace}" get pods -l app.kubernetes.io/name=fraudstream-processor -o wide
    ;;
  *)
    sed -n '2,22p' "$0"
    exit 2
    ;;
esac
