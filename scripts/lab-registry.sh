#!/usr/bin/env bash
# lab-registry.sh — an image registry in a lab client: the CNCF distribution registry
# (Debian's docker-registry) on plain HTTP, for the image tests, the demo and the benchmark.
#
# Usage (as root):
#   scripts/lab-registry.sh start LAB [PORT]                # serve on 198.18.0.101:PORT
#   scripts/lab-registry.sh push  LAB ARCHIVE NAME... [--port PORT]
#   scripts/lab-registry.sh stop  LAB [PORT]                # stop it (its own pid); data kept
#   e.g. scripts/lab-registry.sh push om /tmp/img/web-1.tar web:1 library/web:1
#
#   LAB      the lab's name (`overmesh lab up --name LAB --clients 1` or more)
#   PORT     1-65535, default 5000
#   ARCHIVE  a docker-archive (`docker save`, `podman save`; scripts/test-image.sh makes them)
#   NAME     repository:tag in the registry, e.g. web:1; library/web:1 is what a registry
#            mirror serves for docker.io/library/web:1 (`--image web:1` with the mirror set)
#
# Environment: OVERMESH_LAB_DIR (the lab's run directory, default /run/overmesh-lab),
# OVERMESH (the CLI; default: `overmesh` in PATH, else build/release or build/debug).
#
# The registry runs in the lab's client c1 (its network namespace only, through `overmesh
# lab exec`) and listens on c1's underlay address 198.18.0.101, so the lab's hosts reach it
# and nothing of the machine's own namespace does. Everything of it lives in
# <run dir>/<LAB>/c1/registry-<PORT>/: config.yml, registry.pid, registry.log and data/
# (the blobs). `stop` kills only the pid in its pid file, after checking that this pid runs
# this very config; `start` after `stop` serves the same data again (a registry that went
# down and came back). `lab down` also ends it, as every process in a lab namespace. Pushes
# run skopeo in c1 too (plain HTTP: --dest-tls-verify=false), with its own temp directory.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "lab-registry: $*" >&2; exit 2; }
usage() { sed -n '5,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 2 ] || usage
action=$1 lab=$2
shift 2
case "$action" in start | stop | push) ;; *) die "unknown action \"$action\": use start, push or stop" ;; esac
[[ $lab =~ ^[a-z0-9]{1,8}$ ]] || die "invalid lab name \"$lab\": 1-8 lower-case letters or digits"

port=5000
archive=""
names=()
if [ "$action" = push ]; then
  [ $# -ge 2 ] || die "push needs ARCHIVE and at least one NAME (e.g. web:1)"
  archive=$1
  shift
  while [ $# -gt 0 ]; do
    if [ "$1" = --port ]; then
      [ $# -ge 2 ] || die "--port needs a value"
      port=$2
      shift 2
    else
      names+=("$1")
      shift
    fi
  done
  [ -r "$archive" ] || die "cannot read ARCHIVE \"$archive\""
  archive=$(cd "$(dirname "$archive")" && pwd)/$(basename "$archive")
  [ ${#names[@]} -ge 1 ] || die "push needs at least one NAME (e.g. web:1)"
  for name in "${names[@]}"; do
    [[ $name =~ ^[a-z0-9]+([._/-][a-z0-9]+)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] ||
      die "invalid NAME \"$name\": lower-case repository and a tag, e.g. web:1 or library/web:1"
  done
else
  [ $# -le 1 ] || die "too many arguments for $action: LAB [PORT]"
  [ $# -eq 0 ] || port=$1
fi
[[ $port =~ ^[0-9]{1,5}$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
  die "invalid PORT \"$port\": a number from 1 to 65535"

address=198.18.0.101
run_dir=${OVERMESH_LAB_DIR:-/run/overmesh-lab}
lab_dir="$run_dir/$lab"
[ -d "$lab_dir" ] || die "no lab \"$lab\" in $run_dir (set OVERMESH_LAB_DIR if it lives elsewhere)"
[ -d "$lab_dir/c1" ] || die "lab \"$lab\" has no client c1 (\`overmesh lab up --clients 1\`)"
dir="$lab_dir/c1/registry-$port"
conf="$dir/config.yml"
pid_file="$dir/registry.pid"

om=${OVERMESH:-}
if [ -z "$om" ]; then
  if command -v overmesh > /dev/null; then
    om=overmesh
  else
    for b in build/release build/debug; do
      [ -x "$b/src/cli/overmesh" ] && { om="$PWD/$b/src/cli/overmesh"; break; }
    done
  fi
fi
[ -n "$om" ] || die "cannot find the overmesh CLI: put it in PATH or set OVERMESH"
in_c1() { "$om" lab exec --name "$lab" --run-dir "$run_dir" c1 -- "$@"; }

# The registry of this config: the pid in its pid file, if that process still runs
# `docker-registry serve <this config>` (a stale pid file may name a recycled pid).
our_registry() {
  local pid
  [ -s "$pid_file" ] || return 1
  pid=$(tr -dc '0-9' < "$pid_file")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "serve $conf" || return 1
  echo "$pid"
}
answers() { in_c1 curl -sf -o /dev/null --max-time 2 "http://$address:$port/v2/"; }

case "$action" in
  stop)
    pid=$(our_registry) || { echo "lab-registry: no registry runs with $conf"; exit 0; }
    kill -TERM "$pid"
    for _ in $(seq 50); do
      [ -e "/proc/$pid" ] || { echo "lab-registry: stopped registry $pid (port $port)"; exit 0; }
      sleep 0.1
    done
    kill -KILL "$pid" 2> /dev/null || true
    echo "lab-registry: registry $pid did not stop within 5 s: sent SIGKILL" >&2
    ;;

  start)
    command -v docker-registry > /dev/null ||
      die "docker-registry is missing (scripts/setup.sh installs Debian's docker-registry)"
    if pid=$(our_registry); then
      die "registry $pid already runs with $conf; stop it first: $0 stop $lab $port"
    fi
    mkdir -p "$dir/data"
    cat > "$conf" << EOF
# Written by scripts/lab-registry.sh: lab $lab, client c1, $address:$port, plain HTTP.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $address:$port
EOF
    # sh records the registry's own pid and leaves it running on its own (stdin closed, its
    # output in the log); lab exec returns once sh has.
    in_c1 sh -c 'docker-registry serve "$1" < /dev/null >> "$2" 2>&1 & echo $! > "$3"' \
      sh "$conf" "$dir/registry.log" "$pid_file"
    for _ in $(seq 100); do
      if answers; then
        echo "lab-registry: registry $(our_registry) in $lab-c1 serves http://$address:$port"
        exit 0
      fi
      our_registry > /dev/null || break
      sleep 0.1
    done
    tail -n 20 "$dir/registry.log" >&2 || true
    pid=$(our_registry) && kill -KILL "$pid"
    die "the registry did not answer on $address:$port within 10 s (log above: $dir/registry.log)"
    ;;

  push)
    command -v skopeo > /dev/null || die "skopeo is missing (scripts/setup.sh installs it)"
    answers || die "no registry answers on $address:$port in lab $lab: $0 start $lab $port"
    tmp="$dir/skopeo-tmp"
    mkdir -p "$tmp"
    for name in "${names[@]}"; do
      in_c1 env TMPDIR="$tmp" skopeo copy --quiet --dest-tls-verify=false \
        "docker-archive:$archive" "docker://$address:$port/$name" ||
        die "skopeo could not push $archive as $address:$port/$name"
      digest=$(in_c1 skopeo inspect --tls-verify=false --format '{{.Digest}}' \
        "docker://$address:$port/$name")
      echo "lab-registry: pushed $address:$port/$name@$digest"
    done
    rm -rf "$tmp"
    ;;
esac
