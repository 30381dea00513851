#!/usr/bin/env bash
# npm run cluster:status: which components run, and the node as the API server sees it.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$CLUSTER_DIR/lib/pki.sh"
K8S_BIN_DIR="$(ls -d "$GANTRY_CACHE"/k8s/v* 2>/dev/null | tail -1)"
export PATH="${K8S_BIN_DIR:-/nonexistent}:$PATH"
all=0
for component in docker-containerd dockerd registry registry-auth containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
  if is_running "$component"; then
    printf '%-24s running  pid %s\n' "$component" "$(cat "$CLUSTER_RUN/$component.pid")"
  else
    printf '%-24s stopped\n' "$component"; all=1
  fi
done
if is_running kube-apiserver; then
  echo
  kubectl --kubeconfig "$KUBECONFIGS/admin.kubeconfig" --request-timeout=5s get nodes -o wide 2>&1
  echo "kubeconfig: $KUBECONFIGS/admin.kubeconfig"
fi
[ -f "$CLUSTER_RUN/last-up-seconds" ] && echo "last cluster:up took $(cat "$CLUSTER_RUN/last-up-seconds") s"
exit $all
