# The node runtime (containerd + CNI) and the Kubernetes components, each started with
# start_daemon and waited for, so a failure names the component and shows its log.
# shellcheck shell=bash

K8S_BIN=""   # set by build_kubernetes
CONTAINERD_SOCK="/run/containerd/containerd.sock"

build_kubernetes() {
  K8S_BIN="$(GANTRY_CACHE="$GANTRY_CACHE" bash "$CLUSTER_DIR/build/build.sh")" || die build "building Kubernetes failed"
  export PATH="$K8S_BIN:$PATH"
}

install_node_packages() {
  local missing=()
  for pair in containerd:containerd runc:runc /usr/lib/cni/bridge:containernetworking-plugins etcd:etcd-server \
      conntrack:conntrack iptables:iptables openssl:openssl socat:socat; do
    local what="${pair%%:*}" pkg="${pair#*:}"
    if [[ "$what" == /* ]]; then [ -e "$what" ] || missing+=("$pkg"); else command -v "$what" >/dev/null || missing+=("$pkg"); fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  install_prometheus_package
}

# Debian's prometheus (bookworm: 2.42) for the tests' real Prometheus, which
# test/support/prometheus.ts starts per test on a loopback port. Without recommends
# (prometheus-node-exporter would be one more daemon); policy-rc.d keeps its postinst from
# starting the distro service, and a daemon started anyway (a machine with an init system)
# is stopped: only the tests' own Prometheus processes may run.
install_prometheus_package() {
  if [ ! -x /usr/bin/prometheus ]; then
    log "installing prometheus"
    apt_install --no-install-recommends prometheus
  fi
  # Nor at boot, on a machine with an init system: the distro service would listen on :9090.
  if [ -e /etc/systemd/system/multi-user.target.wants/prometheus.service ] && command -v deb-systemd-helper >/dev/null; then
    deb-systemd-helper disable prometheus.service >/dev/null 2>&1 || true
  fi
  if ls /etc/rc[2-5].d/S*prometheus >/dev/null 2>&1 && command -v update-rc.d >/dev/null; then
    update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
  local pid
  for pid in $(pgrep -x prometheus -u prometheus 2>/dev/null); do
    log "stopping the distro's prometheus service (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
  done
  return 0
}

# apt_install <packages...>: noninteractive, and without starting the packages' own services.
apt_install() {
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=1; fi
  for _ in $(seq 1 60); do fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1 || break; sleep 2; done
  [ -f /var/lib/apt/lists/lock ] && [ -n "$(ls /var/lib/apt/lists/*_Packages 2>/dev/null | head -1)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$CLUSTER_LOGS/apt.log" 2>&1 || { [ $created = 1 ] && rm -f "$policy"; die apt "apt-get install $* failed"; }
  [ $created = 1 ] && rm -f "$policy"
  return 0
}

# Saved once per up, restored by down: the sysctls and iptables rules the cluster changes.
snapshot_host() {
  [ -f "$CLUSTER_RUN/host.sysctl" ] && return 0
  sysctl -n net.ipv4.ip_forward > "$CLUSTER_RUN/host.sysctl"
  sysctl -n net.ipv4.conf.all.route_localnet >> "$CLUSTER_RUN/host.sysctl"
  iptables-save > "$CLUSTER_RUN/host.iptables"
  ip6tables-save > "$CLUSTER_RUN/host.ip6tables" 2>/dev/null || true
}

# Routes the service and pod ranges to a port-less local bridge (more specific routes, such as the
# pod subnet on cni0 and kube-proxy's DNAT, still win). Without it, a packet for a service IP
# that kube-proxy has not programmed would follow the default route off this machine.
GUARD_LINK="gantry-guard"
guard_cluster_routes() {
  ip link show "$GUARD_LINK" >/dev/null 2>&1 || ip link add "$GUARD_LINK" type bridge   # no ports: whatever reaches it is dropped
  ip link set "$GUARD_LINK" up
  ip route replace "$SERVICE_CIDR" dev "$GUARD_LINK"
  ip route replace "$POD_RANGE" dev "$GUARD_LINK"
}

start_containerd() {
  local dir="$CLUSTER_STATE/containerd"
  mkdir -p "$dir" "$CLUSTER_STATE/cni/net.d" "$CLUSTER_STATE/cni/networks"
  write_if_changed "$dir/config.toml" <<EOF2
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This VM's bounding set lacks CAP_SYS_RESOURCE: negative OOM scores fail container creation.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CLUSTER_STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
EOF2
  # Docker's iptables FORWARD DROP policy drops pod traffic; the firewall plugin admits it.
  write_if_changed "$CLUSTER_STATE/cni/net.d/10-gantry.conflist" <<EOF2
{"cniVersion":"1.0.0","name":"gantry","plugins":[
 {"type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":true,"hairpinMode":true,
  "ipam":{"type":"host-local","dataDir":"$CLUSTER_STATE/cni/networks","ranges":[[{"subnet":"$POD_CIDR"}]],"routes":[{"dst":"0.0.0.0/0"}]}},
 {"type":"portmap","capabilities":{"portMappings":true}},
 {"type":"firewall"}]}
EOF2
  # The proxy refuses pulls from registries off loopback (see NO_PULL_PROXY in common.sh).
  (export HTTP_PROXY="$NO_PULL_PROXY" HTTPS_PROXY="$NO_PULL_PROXY" NO_PROXY=127.0.0.1,localhost,::1
   start_daemon containerd containerd --config "$dir/config.toml")
  wait_for containerd 30 ctr --address "$CONTAINERD_SOCK" version
}

start_etcd() {
  mkdir -p "$CLUSTER_STATE/etcd"
  start_daemon etcd etcd --name gantry --data-dir "$CLUSTER_STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster gantry=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
  wait_for etcd 30 curl -fsS http://127.0.0.1:2381/health
}

start_apiserver() {
  start_daemon kube-apiserver kube-apiserver \
    --etcd-servers=http://127.0.0.1:2379 \
    --advertise-address="$(node_ip)" --bind-address=0.0.0.0 --secure-port=$API_PORT \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true --profiling=false \
    --kubelet-preferred-address-types=InternalIP
  wait_for kube-apiserver 90 kubectl --kubeconfig "$KUBECONFIGS/admin.kubeconfig" get --raw /readyz
}

start_controllers() {
  start_daemon kube-controller-manager kube-controller-manager \
    --kubeconfig="$KUBECONFIGS/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$KUBECONFIGS/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$KUBECONFIGS/controller-manager.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --controllers='*,bootstrapsigner,tokencleaner'
  start_daemon kube-scheduler kube-scheduler \
    --kubeconfig="$KUBECONFIGS/scheduler.kubeconfig" \
    --authentication-kubeconfig="$KUBECONFIGS/scheduler.kubeconfig" \
    --authorization-kubeconfig="$KUBECONFIGS/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1
  wait_for kube-controller-manager 60 curl -fsSk https://127.0.0.1:10257/healthz
  wait_for kube-scheduler 60 curl -fsSk https://127.0.0.1:10259/healthz
}

start_kubelet() {
  local dir="$CLUSTER_STATE/kubelet"
  mkdir -p "$dir"
  # No cluster DNS, and an empty resolv.conf: pods must never reach the host's resolver.
  : > "$dir/resolv.conf"
  write_if_changed "$dir/config.yaml" <<EOF2
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: "$PKI/ca.crt" }
authorization: { mode: Webhook }
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
oomScoreAdj: 0
failSwapOn: false
resolvConf: "$dir/resolv.conf"
readOnlyPort: 0
serializeImagePulls: false
# Never garbage-collect images: the pause image cannot be pulled again from anywhere.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%", nodefs.inodesFree: "2%" }
EOF2
  start_daemon kubelet kubelet --config="$dir/config.yaml" --kubeconfig="$KUBECONFIGS/kubelet.kubeconfig" \
    --hostname-override="$NODE_NAME" --node-ip="$(node_ip)" --v=1
  wait_for kubelet 90 node_ready
}

node_ready() {
  [ "$(kubectl --kubeconfig "$KUBECONFIGS/admin.kubeconfig" get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

start_kube_proxy() {
  write_if_changed "$CLUSTER_STATE/kube-proxy.yaml" <<EOF2
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: "$KUBECONFIGS/kube-proxy.kubeconfig" }
mode: iptables
clusterCIDR: "$POD_CIDR"
hostnameOverride: "$NODE_NAME"
oomScoreAdj: 0
conntrack: { maxPerCore: 0 }
EOF2
  start_daemon kube-proxy kube-proxy --config="$CLUSTER_STATE/kube-proxy.yaml"
  wait_for kube-proxy 30 curl -fsS http://127.0.0.1:10256/healthz
}
