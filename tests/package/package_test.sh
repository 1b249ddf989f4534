#!/usr/bin/env bash
# The Debian package on a bare Debian 12 root (CI runs it inside ../shared/tools/fresh-root after
# the release build): builds it (scripts/package.sh; nothing to compile when build/release is
# current), installs it with apt (dependencies from the archive), checks every file, verifies
# the unit with systemd-analyze, runs both binaries' --help/--version, checks the bash
# completion, runs the installed daemon in a lab the way the unit runs it (below), then purges
# and checks that nothing of ours is left.
# Never starts overmeshd in this machine's network namespace (a fresh root shares it): the
# installed daemon runs only inside lab hosts, with the unit's ExecStart= line
# (`overmesh lab up --unit`), the installed config, and a socket and state dir of each host's.
# Needs root and a machine whose /usr is disposable (it installs and purges the package).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "package_test: run as root (in ../shared/tools/fresh-root)" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive

failures=0
check() {  # check DESCRIPTION COMMAND...: runs COMMAND, reports and counts a failure
  local what=$1
  shift
  if "$@" > /tmp/package_test.out 2>&1; then
    echo "ok:   $what"
  else
    echo "FAIL: $what"
    sed 's/^/      /' /tmp/package_test.out | tail -20
    failures=$((failures + 1))
  fi
}

if dpkg-query -W -f='${Status}' overmesh 2> /dev/null | grep -q "install ok installed"; then
  echo "package_test: overmesh is installed here already; refusing to purge it" >&2
  exit 2
fi

scripts/package.sh
deb=$(ls dist/overmesh_*.deb)
version=$(sed -n 's/.*kVersion = "\([0-9.]*\)".*/\1/p' src/daemon/version.h)

check "the package is named after version.h's version ($version)" \
  test "$(dpkg-deb -f "$deb" Version)" = "$version"
depends=$(dpkg-deb -f "$deb" Depends)
echo "      Depends: $depends"
for needed in podman runc skopeo libnftables1 libnl-route-3-200 libmicrohttpd12 libc6; do
  check "Depends names $needed" grep -q "\\b$needed\\b" <<< "$depends"
done
check "conffiles: /etc/overmesh/overmeshd.conf" \
  bash -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xOf - ./conffiles | grep -qx /etc/overmesh/overmeshd.conf"

# prerm runs `overmeshd cleanup` on remove (and so on purge, which calls it with "remove"),
# never on upgrade: run the packaged script with stand-ins for overmeshd and systemctl
# that record their arguments.
prerm_dir=$(mktemp -d)
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./prerm > "$prerm_dir/prerm"
check "prerm names overmeshd cleanup" grep -q "overmeshd cleanup --allow-root-netns" "$prerm_dir/prerm"
sed -e "s|/usr/bin/overmeshd|$prerm_dir/overmeshd|g" -e "s|/run/systemd/system|$prerm_dir|g" \
  -e "s|systemctl |$prerm_dir/systemctl |g" "$prerm_dir/prerm" > "$prerm_dir/prerm.test"
for tool in overmeshd systemctl; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/calls"\n' "$tool" "$prerm_dir" > "$prerm_dir/$tool"
  chmod +x "$prerm_dir/$tool"
done
prerm_calls() {  # prerm_calls ARG...: runs the test copy of prerm, prints what it called
  rm -f "$prerm_dir/calls"
  sh "$prerm_dir/prerm.test" "$@" > /dev/null 2>&1
  cat "$prerm_dir/calls" 2> /dev/null || true
}
calls=$(prerm_calls remove)
check "prerm remove: first stops the unit" test "$(sed -n 1p <<< "$calls")" = "systemctl stop overmeshd.service"
check "prerm remove: then runs overmeshd cleanup" \
  grep -q "^overmeshd cleanup --allow-root-netns" <<< "$(sed -n 2p <<< "$calls")"
check "prerm upgrade: calls nothing" test -z "$(prerm_calls upgrade 0.1.0)"
check "prerm failed-upgrade: calls nothing" test -z "$(prerm_calls failed-upgrade 0.1.0)"
rm -rf "$prerm_dir"

apt-get update -qq
check "apt-get install ./$deb" apt-get install -y -qq "./$deb"

files=(
  /usr/bin/overmesh /usr/bin/overmeshd
  /lib/systemd/system/overmeshd.service /etc/overmesh/overmeshd.conf
  /usr/share/man/man1/overmesh.1.gz /usr/share/man/man8/overmeshd.8.gz
  /usr/share/bash-completion/completions/overmesh
  /usr/share/doc/overmesh/install.md
)
for file in "${files[@]}"; do
  check "installed: $file" test -s "$file"
done
check "the binaries are stripped" bash -c "! readelf -S /usr/bin/overmeshd | grep -q '\.debug_info'"
check "overmeshd --version says $version" bash -c "overmeshd --version | grep -qx 'overmeshd $version'"
check "overmesh --version says $version" bash -c "overmesh --version | grep -qx 'overmesh $version'"
check "overmesh --help lists the commands" bash -c "overmesh --help | grep -q swarm"
# --help is answered after the settings file is read: the shipped file must parse.
check "overmeshd reads the shipped settings" overmeshd --config /etc/overmesh/overmeshd.conf --help
check "the man pages name the binaries" bash -c \
  "zcat /usr/share/man/man8/overmeshd.8.gz | grep -q allow && zcat /usr/share/man/man1/overmesh.1.gz | grep -q '^\\.TH OVERMESH '"
check "overmeshd's man page has the cleanup subcommand's help" bash -c \
  "zcat /usr/share/man/man8/overmeshd.8.gz | grep -q '^\\.SH CLEANUP'"
check "bash completion completes 'overmesh swa' to swarm" bash -c \
  'source /usr/share/bash-completion/completions/overmesh; COMP_WORDS=(overmesh swa); COMP_CWORD=1; _overmesh; [ "${COMPREPLY[*]}" = swarm ]'
check "the unit runs overmeshd in the host namespace, KillMode=process" bash -c \
  "grep -q '^ExecStart=/usr/bin/overmeshd --allow-root-netns --config /etc/overmesh/overmeshd.conf$' /lib/systemd/system/overmeshd.service && grep -qx KillMode=process /lib/systemd/system/overmeshd.service"
check "installing enabled nothing" bash -c \
  "! ls /etc/systemd/system/*.wants/overmeshd.service 2> /dev/null | grep -q ."

# ---- the installed binaries in a lab, as the unit runs them ----------------------------------
# A lab host cannot run systemd: `lab up --unit` runs the unit's ExecStart= line (the installed
# /usr/bin/overmeshd, --allow-root-netns, --config /etc/overmesh/overmeshd.conf) and appends
# only what each host must have of its own (socket, state dir, netns prefix, resolv.conf,
# cluster port, log level).
unit=/lib/systemd/system/overmeshd.service
unit_line="/usr/bin/overmeshd --allow-root-netns --config /etc/overmesh/overmeshd.conf"
lab_dir=$(mktemp -d /tmp/overmesh-package-lab.XXXXXX)
lab_cleanup() {
  /usr/bin/overmesh lab down --name pkg --run-dir "$lab_dir" > /dev/null 2>&1 || true
  rm -rf "$lab_dir"
}
trap lab_cleanup EXIT
# unit_daemons_run: every lab host's daemon is the installed binary running the unit's line.
unit_daemons_run() {
  local status pid
  status=$(/usr/bin/overmesh lab status --name pkg --run-dir "$lab_dir" --format json)
  [ "$(jq -r .unit <<< "$status")" = "$unit" ] || return 1
  for pid in $(jq -r '.hosts[].pid' <<< "$status"); do
    [ "$(readlink "/proc/$pid/exe")" = /usr/bin/overmeshd ] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "^$unit_line --socket " || {
      echo "pid $pid runs: $(tr '\0' ' ' < "/proc/$pid/cmdline")"
      return 1
    }
  done
  tr '\0' ' ' < "/proc/$(jq -r '.hosts[0].pid' <<< "$status")/cmdline"
  echo
}
nodes_ready() {
  local attempt
  for attempt in $(seq 1 100); do
    if /usr/bin/overmesh lab exec --name pkg --run-dir "$lab_dir" 1 -- /usr/bin/overmesh node ls \
      --format json | jq -e 'length == 2 and all(.[]; .state == "ready")' > /dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "not every node ready after $attempt tries"
  return 1
}
check "lab up --unit $unit: 2 hosts" \
  /usr/bin/overmesh lab up --name pkg --run-dir "$lab_dir" --hosts 2 --unit "$unit"
check "every lab host runs /usr/bin/overmeshd with the unit's line and the installed config" \
  unit_daemons_run
sed 's/^/      /' /tmp/package_test.out
check "the installed daemons form a cluster (node ls: 2 ready)" nodes_ready
check "lab restart 2 runs the unit's line again" \
  /usr/bin/overmesh lab restart --name pkg --run-dir "$lab_dir" 2
check "after the restart: the unit's line, the cluster ready" \
  eval 'unit_daemons_run && nodes_ready'
lab_cleanup
trap - EXIT

# The overlay tests against labs of the installed binaries: the CLI is /usr/bin/overmesh
# (OVERMESH_TEST_CLI) and every host runs the unit's line (OVERMESH_LAB_UNIT; each test's lab
# checks that its daemons run it, tests/support/lab_session.h). A cluster of 3 hosts forms,
# tasks on every host reach each other across VXLAN, two networks stay apart, and a stream
# survives daemons restarted with the unit's line.
overlay_tests='OverlayTest\.(ReachesEveryTaskAcrossHostsByOverlayAddress|DifferentNetworksCannotReachEachOther|StreamSurvivesDaemonRestartsAndRemovedTasksLeaveNoEntries)'
cmake --build build/release -- e2e_overlay > /dev/null
overlay_on_installed() {
  OVERMESH_LAB_UNIT=$unit OVERMESH_TEST_CLI=/usr/bin/overmesh ctest --test-dir build/release \
    --no-tests=error --output-on-failure -R "$overlay_tests" > /tmp/package_test.ctest 2>&1
  local rc=$?
  cat /tmp/package_test.ctest
  [ "$rc" -eq 0 ] && grep -q '100% tests passed, 0 tests failed out of 3' /tmp/package_test.ctest
}
check "the overlay tests on the installed binaries (3 labs)" overlay_on_installed
grep -E '^ *[0-9]+/3 Test|tests passed' /tmp/package_test.ctest | sed 's/^/      /' 

# systemd-analyze verify checks the unit offline (the root runs no systemd); its man(1)
# check needs man-db.
apt-get install -y -qq --no-install-recommends systemd man-db > /dev/null
check "systemd-analyze verify overmeshd.service" systemd-analyze verify /lib/systemd/system/overmeshd.service

# What a daemon that ran would have left: purge must remove it too.
mkdir -p /var/lib/overmesh/tasks /run/overmesh /run/overmesh-podman
touch /var/lib/overmesh/node.json /run/overmesh/overmesh.sock
echo "hostname = \"edited\"" >> /etc/overmesh/overmeshd.conf
packaged=$(dpkg -L overmesh)
# In a network namespace of its own: prerm runs `overmeshd cleanup --allow-root-netns`, and
# a fresh root shares this machine's namespace, where no test may run it.
check "apt-get purge overmesh" unshare --net apt-get purge -y -qq overmesh
cp /tmp/package_test.out /tmp/package_test.purge.out
check "purge ran overmeshd cleanup (it found nothing)" \
  grep -q "Nothing of overmesh's was left on this host" /tmp/package_test.purge.out
left=()
while read -r path; do
  # Directories shared with other packages (/usr/bin, /usr/share/man/man1, ...) stay.
  if [ -d "$path" ]; then
    [[ "$path" != *overmesh* ]] || left+=("$path")
  elif [ -e "$path" ]; then
    left+=("$path")
  fi
done <<< "$packaged"
for path in /etc/overmesh /var/lib/overmesh /run/overmesh /run/overmesh-podman; do
  [ ! -e "$path" ] || left+=("$path")
done
check "nothing of ours is left after purge" test "${#left[@]}" -eq 0
[ "${#left[@]}" -eq 0 ] || printf '      left: %s\n' "${left[@]}"

if [ "$failures" -gt 0 ]; then
  echo "package_test: $failures check(s) failed"
  exit 1
fi
echo "package_test: all checks passed"
