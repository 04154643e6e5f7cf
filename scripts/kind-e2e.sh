#!/usr/bin/env bash
# Quotient end to end on a laptop: a kind cluster whose worker nodes carry fake GPUs
# (nvidia.com/gpu patched onto node status, GFD's labels on the nodes), then two opt-in
# suites: tests/kube/cluster runs the live scheduler in-process under its own scheduler name;
# tests/install/test_cluster.py builds and loads the image, installs manifests/, creates
# project team-a, applies the examples and checks they are admitted and scheduled.
# No device plugin is involved, so reservation pods of fractional GPUs never report a UUID.
#
#   scripts/kind-e2e.sh            # creates the cluster, runs, deletes it
#   KEEP=1 scripts/kind-e2e.sh     # keeps the cluster (kind delete cluster --name quotient-e2e)
#
# Needs docker, kind and kubectl; Python deps come from the repo's .venv (make it first:
# python3 -m venv .venv && .venv/bin/pip install -e '.[dev]').
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${CLUSTER:-quotient-e2e}
IMAGE=${IMAGE:-ghcr.io/quotient/quotient:e2e}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
PY=${PY:-.venv/bin}
WORK=$(mktemp -d)
export KUBECONFIG="$WORK/kubeconfig"

for tool in docker kind kubectl; do
  command -v "$tool" >/dev/null || { echo "kind-e2e: $tool is required" >&2; exit 2; }
done
[ -x "$PY/quotient" ] || { echo "kind-e2e: $PY/quotient not found; make the .venv first" >&2; exit 2; }

cleanup() {
  [ -n "${PF_PID:-}" ] && kill "$PF_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" != 1 ]; then kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n== %s ==\n' "$*"; }

step "kind cluster $CLUSTER (1 control plane, 2 workers)"
kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" --wait 120s --config - <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
  - role: worker
KIND

step "fake GPUs: $GPUS_PER_NODE nvidia.com/gpu per worker, with GFD's labels"
for node in $(kubectl get nodes -l '!node-role.kubernetes.io/control-plane' -o name); do
  # An extended resource patched onto node status stays: the kubelet only manages its own.
  kubectl patch "$node" --subresource=status --type=json -p "[
    {\"op\": \"add\", \"path\": \"/status/capacity/nvidia.com~1gpu\", \"value\": \"$GPUS_PER_NODE\"},
    {\"op\": \"add\", \"path\": \"/status/allocatable/nvidia.com~1gpu\", \"value\": \"$GPUS_PER_NODE\"}]"
  kubectl label --overwrite "$node" nvidia.com/gpu.product=NVIDIA-A100-SXM4-80GB \
    nvidia.com/gpu.memory=81920 nvidia.com/gpu.count="$GPUS_PER_NODE" nvidia.com/gpu.present=true
done
kubectl wait --for=jsonpath='{.status.allocatable.nvidia\.com/gpu}'="$GPUS_PER_NODE" nodes \
  -l '!node-role.kubernetes.io/control-plane' --timeout=60s

step "the live scheduler in-process (tests/kube/cluster)"
"$PY/pytest" -m cluster -q -p no:cacheprovider tests/kube/cluster

step "image $IMAGE"
docker build -q -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

step "install: kubectl apply -k (the manifests, with the e2e image)"
mkdir -p "$WORK/overlay"
cp -r manifests "$WORK/manifests"
cat > "$WORK/overlay/kustomization.yaml" <<KUST
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../manifests]
images:
  - {name: ghcr.io/quotient/quotient, newName: ${IMAGE%:*}, newTag: ${IMAGE##*:}}
replacements:  # the base copied its image before this overlay changed it: copy again
  - source: {kind: Deployment, name: quotient-scheduler, fieldPath: spec.template.spec.containers.0.image}
    targets:
      - select: {kind: Deployment, name: quotient-scheduler}
        fieldPaths:
          - "spec.template.spec.containers.0.env.[name=QUOTIENT_RESERVATION_IMAGE].value"
KUST
kubectl apply -k "$WORK/overlay"
ADMIN=$(openssl rand -hex 24); SCHED=$(openssl rand -hex 24)
kubectl -n quotient-system create secret generic quotient-tokens \
  --from-literal=QUOTIENT_TOKENS="admin:$ADMIN,scheduler:$SCHED" \
  --from-literal=scheduler-token="$SCHED"
"$PY/quotient" certs --apply --kubeconfig "$KUBECONFIG"
for d in quotient-api quotient-webhook quotient-scheduler; do
  kubectl -n quotient-system rollout status "deployment/$d" --timeout=180s
done

step "project team-a through the API"
kubectl -n quotient-system port-forward svc/quotient-api 18080:8080 >/dev/null 2>&1 &
PF_PID=$!
for _ in $(seq 1 30); do curl -fs http://127.0.0.1:18080/healthz >/dev/null && break; sleep 1; done
QUOTIENT_URL=http://127.0.0.1:18080 QUOTIENT_TOKEN=$ADMIN \
  "$PY/quotient" projects create team-a --deserved-gpus 4

step "examples (CPU and memory requests dropped: a laptop has not 4 x 32 GiB), checked by pytest -m cluster"
mkdir -p "$WORK/examples"
drop() { printf -- '- {op: remove, path: /spec/%s}\n' "$@"; }
cat > "$WORK/examples/kustomization.yaml" <<KUST
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../manifests/examples]
patches:
  - target: {kind: Deployment, name: ollama}
    patch: |
$(drop template/spec/containers/0/resources/requests template/spec/containers/0/resources/limits/memory | sed 's/^/      /')
  - target: {kind: Job, name: ddp-train}
    patch: |
$(drop template/spec/containers/0/resources/requests template/spec/containers/0/resources/limits/memory | sed 's/^/      /')
  - target: {kind: Pod, name: jupyter}
    patch: |
$(drop containers/0/resources | sed 's/^/      /')
  - target: {kind: Pod, name: embeddings}
    patch: |
$(drop containers/0/resources | sed 's/^/      /')
KUST
QUOTIENT_E2E_EXAMPLES="$WORK/examples" QUOTIENT_E2E_FAKE_GPUS=1 "$PY/pytest" -m cluster -q -p no:cacheprovider tests/install/test_cluster.py
kubectl -n team-a get pods -o wide
