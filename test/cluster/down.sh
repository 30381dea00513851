#!/usr/bin/env bash
# npm run cluster:down: stop everything cluster:up started and leave no process, mount,
# iptables rule or bridge behind. State (etcd data, certificates, image caches) is kept for a
# fast next start; --purge removes the cluster state too.
set -uo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$CLUSTER_DIR/lib/pki.sh"
source "$CLUSTER_DIR/lib/docker.sh"
[ "$(id -u)" -eq 0 ] || { echo "cluster:down needs root" >&2; exit 1; }
purge=0; [ "${1:-}" = "--purge" ] && purge=1
K8S_BIN_DIR="$(ls -d "$GANTRY_CACHE"/k8s/v* 2>/dev/null | tail -1)"
export PATH="${K8S_BIN_DIR:-/nonexistent}:$PATH"
kc() { kubectl --kubeconfig "$KUBECONFIGS/admin.kubeconfig" --request-timeout=10s "$@"; }

# 1. Pods: with the controllers stopped nothing recreates them; the kubelet stops each sandbox
#    through CNI, which removes its veth, netns and iptables rules.
stop_daemon kube-controller-manager
stop_daemon kube-scheduler
if is_running kubelet && is_running kube-apiserver; then
  log "deleting pods"
  kc delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do
    [ -z "$(ctr -n k8s.io tasks ls -q 2>/dev/null)" ] && break
    sleep 1
  done
fi
stop_daemon kube-proxy
stop_daemon kubelet
stop_daemon kube-apiserver
stop_daemon etcd

# 2. Anything the kubelet did not get to: kill tasks, remove containers, free their netns.
if is_running containerd; then
  for task in $(ctr -n k8s.io tasks ls -q 2>/dev/null); do ctr -n k8s.io tasks kill -s KILL "$task" >/dev/null 2>&1; done
  sleep 1
  for task in $(ctr -n k8s.io tasks ls -q 2>/dev/null); do ctr -n k8s.io tasks rm -f "$task" >/dev/null 2>&1; done
  for c in $(ctr -n k8s.io containers ls -q 2>/dev/null); do ctr -n k8s.io containers rm "$c" >/dev/null 2>&1; done
fi
stop_daemon containerd
pkill -KILL -f 'containerd-shim-runc-v2 -namespace k8s.io' 2>/dev/null || true
stop_dockerd
stop_registries

# 3. Mounts left by the kubelet, containerd and CNI (deepest first).
findmnt -rn -o TARGET | grep -E '^(/var/lib/kubelet|/run/containerd|/run/netns|/var/lib/containerd|/var/run/netns)' | sort -r |
  while read -r target; do umount -l "$target" 2>/dev/null || true; done
for ns in $(ip netns list 2>/dev/null | awk '/^cni-/{print $1}'); do ip netns delete "$ns" 2>/dev/null || true; done

# 4. Links and the host's iptables rules and sysctls, as they were before cluster:up.
ip link show gantry-guard >/dev/null 2>&1 && ip link delete gantry-guard   # its routes go with it
for bridge in cni0 docker0; do
  ip link show "$bridge" >/dev/null 2>&1 || continue
  # Veths still plugged into our bridges belonged to pods or containers we ran.
  for port in $(ip -o link show master "$bridge" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link delete "$port" 2>/dev/null || true
  done
  ip link delete "$bridge"
done
restore_rules() { # <save command> <restore command> <snapshot file>
  local save="$1" restore="$2" snapshot="$3" table
  [ -f "$snapshot" ] || return 0
  "$restore" < "$snapshot"
  # Tables the snapshot did not have were created by us: empty them.
  for table in filter nat mangle raw; do
    grep -q "^\*$table" "$snapshot" || { "${save%-save}" -t "$table" -F 2>/dev/null; "${save%-save}" -t "$table" -X 2>/dev/null; }
  done
  rm -f "$snapshot"
}
restore_rules iptables-save iptables-restore "$CLUSTER_RUN/host.iptables"
restore_rules ip6tables-save ip6tables-restore "$CLUSTER_RUN/host.ip6tables"
if [ -f "$CLUSTER_RUN/host.sysctl" ]; then
  { read -r forward; read -r localnet; } < "$CLUSTER_RUN/host.sysctl"
  sysctl -qw net.ipv4.ip_forward="$forward" net.ipv4.conf.all.route_localnet="$localnet"
  rm -f "$CLUSTER_RUN/host.sysctl"
fi

if [ $purge = 1 ]; then
  log "purging $CLUSTER_STATE"
  rm -rf "$CLUSTER_STATE" /var/lib/kubelet
fi
log "cluster down"
