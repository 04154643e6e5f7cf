#!/usr/bin/env bash
# Make a kind cluster whose nodes advertise fake GPUs, and run the opt-in cluster suite on it.
#
# Fake GPUs: each node's status gets the extended resource nvidia.com/gpu (as the Kubernetes
# docs' "advertise extended resources for a node" does) plus the labels GPU feature discovery
# would set, so the scheduler's translation, binding and events run for real; no device plugin
# is involved, so reservation pods of fractional GPUs never report a UUID there.
#
# Needs: kind, kubectl, docker. Env: CLUSTER (default quotient-e2e), GPUS per node (8),
# KEEP=1 keeps the cluster afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
CLUSTER="${CLUSTER:-quotient-e2e}"
GPUS="${GPUS:-8}"
PYTEST="${PYTEST:-.venv/bin/pytest}"

config="$(mktemp)"
cat >"$config" <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes: [{role: control-plane}, {role: worker}, {role: worker}]
YAML
kind create cluster --name "$CLUSTER" --config "$config" --wait 180s
if [[ "${KEEP:-0}" != 1 ]]; then
  trap 'kind delete cluster --name "$CLUSTER"' EXIT
fi
export KUBECONFIG="$(mktemp)"
kind get kubeconfig --name "$CLUSTER" >"$KUBECONFIG"

for node in $(kubectl get nodes -l '!node-role.kubernetes.io/control-plane' -o name); do
  kubectl patch "$node" --subresource=status --type=json \
    -p "[{\"op\":\"add\",\"path\":\"/status/capacity/nvidia.com~1gpu\",\"value\":\"$GPUS\"}]"
  kubectl label "$node" --overwrite nvidia.com/gpu.product=FAKE-GPU nvidia.com/gpu.memory=16384
done
kubectl wait --for=jsonpath='{.status.allocatable.nvidia\.com/gpu}'="$GPUS" nodes \
  -l '!node-role.kubernetes.io/control-plane' --timeout=60s

"$PYTEST" -m cluster tests/kube/cluster -q -p no:cacheprovider
