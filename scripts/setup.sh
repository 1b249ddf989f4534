#!/usr/bin/env bash
# Installs every Debian package overmesh needs to build, test and run its lab.
# Idempotent: installs only what is missing, so it is cheap to run before every build.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libnl-3-dev libnl-route-3-dev libnftables-dev libldns-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  libsqlite3-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 nftables iperf3 procps psmisc iputils-ping socat jq
  dnsutils dnsmasq-base dnsperf
  nginx wrk curl openssl tcpdump help2man file
  podman runc catatonit skopeo busybox-static docker-registry
  etcd-server etcd-client
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages ${missing[*]}; run this script as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # nginx's postinst would start a web server on port 80 in the machine's own network
  # namespace; overmesh only ever runs nginx inside lab namespaces. A policy-rc.d that
  # exits 101 ("action forbidden") stops invoke-rc.d from starting any service during the
  # install. Only ours is removed again, also when the install fails; one that was there
  # already (e.g. in a container image) is left as it was.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    trap 'rm -f "$policy"' EXIT
    printf '#!/bin/sh\n# scripts/setup.sh: start no service while packages install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# docker-registry's package enables its systemd unit (a registry on :5000 of every address
# of the machine, from the next boot on). overmesh only runs registries inside lab
# namespaces (scripts/lab-registry.sh), so the unit is disabled; `systemctl disable` edits
# the links and works also where systemd does not run (a chroot, CI's fresh root).
if [ -e /etc/systemd/system/multi-user.target.wants/docker-registry.service ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: the docker-registry unit is enabled; run this script as root to disable it" >&2
    exit 1
  fi
  systemctl disable --quiet docker-registry.service 2> /dev/null ||
    rm -f /etc/systemd/system/multi-user.target.wants/docker-registry.service
fi
# etcd-server's package enables (and, where systemd runs, starts) an etcd on
# 127.0.0.1:2379. overmesh runs its own etcd members: the tests on free ports of 127.0.0.1
# (tests/support/etcd_cluster), the lab inside lab namespaces; none of them uses a system
# etcd, so its unit is disabled like the registry's. (The policy-rc.d above keeps
# invoke-rc.d from starting it during the install; in a fresh root without systemd the
# package's postinst then succeeds.)
if [ -e /etc/systemd/system/multi-user.target.wants/etcd.service ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: the etcd unit is enabled; run this script as root to disable it" >&2
    exit 1
  fi
  systemctl disable --quiet etcd.service 2> /dev/null ||
    rm -f /etc/systemd/system/multi-user.target.wants/etcd.service
fi
echo "setup: all ${#packages[@]} packages present"
