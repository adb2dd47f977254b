#!/usr/bin/env bash
# Install every Debian package that building, the demo, the tests and the
# benchmarks need.  Idempotent; run as root (make deps).
set -euo pipefail
PKGS=(
  # build: BPF object, skeleton, control program
  clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev gcc make pkg-config
  libmicrohttpd-dev
  # demo and end-to-end tests: namespaces, veth, offload knobs, traffic
  iproute2 ethtool nftables python3 curl iputils-ping socat procps coreutils
  # fuzzing (tests/fuzz, make fuzz): libFuzzer and the ASan/UBSan runtimes
  # for clang; setpriv (util-linux) for the non-root checks
  libclang-rt-dev
  # benchmarks (make bench): load generators, the balancers xlb is compared
  # with (nftables above; HAProxy; nginx with its stream module), the chart,
  # nsenter (util-linux; the unit and e2e tests use it too)
  wrk iperf3 haproxy nginx-light libnginx-mod-stream gnuplot-nox util-linux
)
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: must run as root (apt-get install)" >&2
  exit 1
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The benchmark packages (haproxy, nginx) are daemons: keep their init
# scripts from starting them (nginx would listen on the host's port 80);
# the benchmarks start their own instances in namespaces.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
