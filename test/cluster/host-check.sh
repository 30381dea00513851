#!/usr/bin/env bash
# host-check.sh save <file> | compare <file>: what cluster:down must leave as it found it:
# no cluster process (nor a test Prometheus), the same network links, the same iptables rules, no cluster mounts.
set -euo pipefail
mode="${1:?save or compare}" file="${2:?snapshot file}"
state() {
  echo "# links"; ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort
  echo "# iptables"; iptables -S 2>/dev/null | grep -v '^# Warning'
  echo "# ip6tables"; ip6tables -S 2>/dev/null | grep -v '^# Warning' || true
  echo "# nat"; iptables -t nat -S 2>/dev/null | grep -v '^# Warning'
  echo "# mounts"; findmnt -rn -o TARGET | grep -E '^(/var/lib/kubelet|/run/containerd|/run/netns|/var/lib/docker|/run/docker)' | sort || true
}
case "$mode" in
  save) state > "$file" ;;
  compare)
    status=0
    leftovers="$(pgrep -a -f '(^|/)(dockerd|containerd|containerd-shim-runc-v2|etcd|kube-apiserver|kube-controller-manager|kube-scheduler|kubelet|kube-proxy|docker-registry|pause|prometheus)( |$)' || true)"
    if [ -n "$leftovers" ]; then echo "host-check: processes left behind:"; echo "$leftovers"; status=1; fi
    if ! diff -u "$file" <(state); then echo "host-check: the host differs from before cluster:up (diff above)"; status=1; fi
    [ $status = 0 ] && echo "host-check: no process, link, iptables rule or mount left behind"
    exit $status ;;
  *) echo "usage: host-check.sh save|compare <file>" >&2; exit 2 ;;
esac
