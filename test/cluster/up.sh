#!/usr/bin/env bash
# npm run cluster:up: bring up the local single-node Kubernetes (etcd, API server, controller
# manager, scheduler, kubelet on containerd, kube-proxy), Docker and the registries.
# Idempotent: running components are left alone. Prints the admin kubeconfig path on stdout.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$CLUSTER_DIR/lib/pki.sh"
source "$CLUSTER_DIR/lib/k8s.sh"
source "$CLUSTER_DIR/lib/docker.sh"
[ "$(id -u)" -eq 0 ] || { echo "cluster:up needs root (it runs containerd, kubelet and iptables)" >&2; exit 1; }

started=$(date +%s)
install_node_packages
install_docker_packages
build_kubernetes
snapshot_host
guard_cluster_routes
sysctl -qw net.ipv4.ip_forward=1

start_dockerd
start_registries
build_base_images
# the database images the tests run (mariadb, postgres, redis, ferretdb), pushed to $REGISTRY
bash "$CLUSTER_DIR/images/data/build.sh"
start_containerd
import_pause_image
make_pki
start_etcd
start_apiserver
start_controllers
start_kubelet
start_kube_proxy
echo "$(( $(date +%s) - started ))" > "$CLUSTER_RUN/last-up-seconds"
log "cluster up in $(( $(date +%s) - started )) s; kubeconfig: $KUBECONFIGS/admin.kubeconfig (or use test/cluster/kubectl)"
echo "$KUBECONFIGS/admin.kubeconfig"
