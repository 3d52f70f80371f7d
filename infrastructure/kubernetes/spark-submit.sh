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
# Optional: K8S_API (default: the current kubectl context's server), EXECUTORS (default 4),
#   NAMESPACE (fraudstream), DRY_RUN=1 (print the spark-submit command instead of running it).
#
# Restarting is safe: the query resumes from the checkpoint in s3a://<bucket>/checkpoints/ at the
# last committed Kinesis sequence numbers, and the sinks are idempotent.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
namespace="${NAMESPACE:-fraudstream}"
driver_pod="fraudstream-processor-driver"
executors="${EXECUTORS:-4}"

die() { echo "spark-submit.sh: $*" >&2; exit 1; }

api_server() {
  if [[ -n "${K8S_API:-}" ]]; then
    echo "${K8S_API}"
  else
    kubectl config view --minify --output 'jsonpath={.clusters[0].cluster.server}'
  fi
}

driver_exists() {
  kubectl --namespace "${namespace}" get pod "${driver_pod}" >/dev/null 2>&1
}

submit() {
  [[ -n "${IMAGE:-}" ]] || die "set IMAGE to the processor image (ECR URI with tag)"
  [[ -n "${AWS_REGION:-}" ]] || die "set AWS_REGION"
  [[ "${IMAGE}" != *:latest ]] || die "IMAGE must carry an immutable tag (the git SHA), not latest"
  local master
  master="k8s://$(api_server)"
  local -a command=(
    spark-submit
    --master "${master}"
    --deploy-mode cluster
    --name fraudstream-processor
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
    --conf "spark.executor.instances=${executors}"
    --conf spark.driver.cores=1
    --conf spark.kubernetes.driver.limit.cores=2
    --conf spark.driver.memory=2g
    --conf spark.driver.memoryOverhead=2g
    --conf spark.executor.cores=2
    --conf spark.kubernetes.executor.limit.cores=2
    --conf spark.executor.memory=4g
    --conf spark.executor.memoryOverhead=1g
    --conf spark.driver.port=7078
    --conf spark.blockManager.port=7079
    --conf spark.sql.shuffle.partitions=16
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
  echo "submitted ${IMAGE}; follow it with: kubectl -n ${namespace} logs -f ${driver_pod}"
}

kill_driver() {
  if ! driver_exists; then
    echo "no driver pod ${namespace}/${driver_pod}"
    return
  fi
  spark-submit --master "k8s://$(api_server)" --kill "${namespace}:${driver_pod}"
  kubectl --namespace "${namespace}" wait --for=delete "pod/${driver_pod}" --timeout=300s
}

case "${1:-}" in
  submit)
    driver_exists && die "${driver_pod} exists; use rollout to replace it"
    submit
    ;;
  rollout)
    kill_driver
    submit
    ;;
  kill) kill_driver ;;
  status)
    kubectl --namespace "${namespace}" get pods -l app.kubernetes.io/name=fraudstream-processor -o wide
    ;;
  *)
    sed -n '2,22p' "$0"
    exit 2
    ;;
esac
