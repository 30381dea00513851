# Certificates and kubeconfigs for the local cluster: one small openssl CA, a serving cert for
# the API server, client certs per component (RBAC identities), and the service-account keys.
# Made once and reused; `cluster:down --purge` removes them.
# shellcheck shell=bash

PKI="$CLUSTER_STATE/pki"
KUBECONFIGS="$CLUSTER_STATE/kubeconfig"
NODE_NAME="gantry-node"
SERVICE_CIDR="10.96.0.0/16"
SERVICE_API_IP="10.96.0.1"
POD_CIDR="10.244.0.0/24"
POD_RANGE="10.244.0.0/16"   # guarded as a whole; the node uses POD_CIDR
API_PORT=6443

# The node's address: the first global IPv4 address (traffic to it never leaves the machine).
node_ip() { ip -4 -o addr show scope global | awk '{split($4, a, "/"); print a[1]; exit}'; }

# client_cert <name> <CN> [O]: a client certificate signed by the cluster CA.
client_cert() {
  local name="$1" cn="$2" org="${3:-}" subj="/CN=$2"
  [ -n "$org" ] && subj="/O=$org/CN=$cn"
  [ -f "$PKI/$name.crt" ] && return 0
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile <(printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n') \
    -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr"
}

# kubeconfig <name> <cert name>: a kubeconfig that authenticates with that client cert.
kubeconfig() {
  local name="$1" cert="$2" file="$KUBECONFIGS/$1.kubeconfig"
  cat > "$file" <<EOK
apiVersion: v1
kind: Config
clusters:
- name: gantry-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 < "$PKI/$cert.crt")
    client-key-data: $(base64 -w0 < "$PKI/$cert.key")
contexts:
- name: $name@gantry-local
  context: { cluster: gantry-local, user: $name }
current-context: $name@gantry-local
EOK
  chmod 600 "$file"
}

make_pki() {
  mkdir -p "$PKI" "$KUBECONFIGS"
  chmod 700 "$PKI"
  local ip; ip="$(node_ip)"
  [ -n "$ip" ] || die pki "no global IPv4 address on this machine for the node"
  if [ ! -f "$PKI/ca.crt" ]; then
    log "making the cluster CA"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 -sha256 \
      -subj "/CN=gantry-local-ca" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  fi
  # The serving cert names every address clients use; remade when the node's IP changes.
  if [ ! -f "$PKI/apiserver.crt" ] || [ "$(cat "$PKI/apiserver.ip" 2>/dev/null)" != "$ip" ]; then
    log "making the API server certificate for $ip"
    openssl genrsa -out "$PKI/apiserver.key" 2048 2>/dev/null
    openssl req -new -key "$PKI/apiserver.key" -subj "/CN=kube-apiserver" -out "$PKI/apiserver.csr" 2>/dev/null
    openssl x509 -req -in "$PKI/apiserver.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial -days 3650 -sha256 \
      -extfile <(printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:%s,IP:%s\n' "$SERVICE_API_IP" "$ip") \
      -out "$PKI/apiserver.crt" 2>/dev/null
    rm -f "$PKI/apiserver.csr"
    echo "$ip" > "$PKI/apiserver.ip"
  fi
  [ -f "$PKI/sa.key" ] || { openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null; openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null; }
  client_cert admin kubernetes-admin system:masters
  client_cert controller-manager system:kube-controller-manager
  client_cert scheduler system:kube-scheduler
  client_cert kubelet "system:node:$NODE_NAME" system:nodes
  client_cert kube-proxy system:kube-proxy
  client_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  kubeconfig admin admin
  kubeconfig controller-manager controller-manager
  kubeconfig scheduler scheduler
  kubeconfig kubelet kubelet
  kubeconfig kube-proxy kube-proxy
}
