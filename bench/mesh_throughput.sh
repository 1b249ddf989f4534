#!/usr/bin/env bash
# mesh_throughput.sh — the routing mesh measured from outside the cluster: requests/s and
# p99 latency through a node without a replica ÷ the same client to the replica's node
# straight (host mode), without and with nginx in front, and the time from
# `service update --publish-add` returning to the new port answering on every node.
#
# Usage (as root, on a Debian 12 machine with wrk, nginx, curl and jq):
#   bench/mesh_throughput.sh                 # reuse build/release or build/debug, else build release
#   OVERMESH_BUILD=build/debug bench/mesh_throughput.sh
#   BENCH_LAB=mesh BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=16 BENCH_TRIES=10 \
#     bench/mesh_throughput.sh
#
# What it does, all inside one throw-away lab (network namespaces on the underlay
# 198.18.0.0/24; the machine's own namespace is never touched):
#   1. `overmesh lab up --hosts 3 --clients 1`; c1 (198.18.0.101) runs no overmeshd: an
#      outside client, as a browser or a load balancer in front of the cluster would be.
#   2. A service `web`, 1 replica pinned to h2 (--constraint node.hostname==<lab>-h2); the
#      task runs Debian's nginx (tasks run on the host's filesystem) with a config in the
#      lab's run directory that answers `<task hostname> <client address>` on port 80.
#      It publishes 80 twice: published=8080 (ingress mode: the mesh, on every node) and
#      mode=host,published=8081 (only on h2, straight to its local replica).
#   3. wrk in c1, BENCH_ROUNDS rounds of BENCH_SECONDS each, alternating, for both
#      new-connection-per-request (`-H 'Connection: close'`: every request pays the mesh's
#      connection set-up, where a DNAT and conntrack cost is) and keep-alive:
#        mesh      http://198.18.0.3:8080/   h3 has no replica: c1 -> h3 -> ingress overlay
#                                           (VXLAN) -> h2 -> the replica
#        baseline  http://198.18.0.2:8081/   c1 -> h2 -> the replica (host mode)
#      Why this baseline: the issue asks for "the same client straight to the replica's
#      address", but a client outside the cluster cannot reach overlay addresses at all:
#      the closest a real outside client gets to "straight" is the replica's own node with a
#      host-mode port. Same client, same wrk, same backend, same underlay link into the
#      cluster; the only difference is the mesh's work (the hop through a node without a
#      replica and the ingress overlay between the nodes). That is what a user trades when
#      choosing mode=host to keep the client's address, as Docker users must today. A run of
#      wrk from h2's own namespace against the replica's ingress address is printed as a
#      reference (no underlay hop at all: an upper bound no outside client can reach), not
#      used in the ratio.
#   4. Two tiers: nginx in c1 (scripts/lab-nginx.sh) with an upstream of every node's :8080
#      ÷ the same nginx config with only h2:8081 as upstream (nginx straight to the replica's
#      node); wrk in c1 against the local nginx, both modes. nginx keeps its upstream
#      connections alive, so the mesh's per-connection cost mostly disappears here.
#   5. BENCH_TRIES times: `service update --publish-add published=P,target=81 web` for a
#      new port P; from the moment it returns, c1 polls every node's P with curl until each
#      answered (the poller starts before the update and waits on a FIFO, so the `lab exec`
#      start-up is not measured); then the port is removed again. The backend also listens
#      on 81 for this: `--publish-rm` removes by target port (Docker's rule), so removing a
#      target-80 port would close 8080 too. Prints p50 / p99 / max, and the poll's own cost
#      (the same poll of a port that already answers).
# Nothing is asserted: it exits non-zero only when the setup fails. The lab is removed on
# exit (also on failure or Ctrl-C).
#
# Each piece is a function; `source bench/mesh_throughput.sh` defines them without running
# anything (main runs only when the file is executed), so they can be tried one by one.
set -euo pipefail

LAB="${BENCH_LAB:-mesh}"
SECS="${BENCH_SECONDS:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONNS="${BENCH_CONNECTIONS:-16}"
TRIES="${BENCH_TRIES:-10}"
MESH_PORT=8080
HOST_PORT=8081
NGINX_PORT=8000
FRONT_PORT=8001

die() { echo "mesh_throughput: setup failed: $*" >&2; exit 2; }

# --- binaries and lab ------------------------------------------------------------------------
source "$(dirname "${BASH_SOURCE[0]}")/bench-helpers.sh"  # find_binaries
run_dir() { echo "${OVERMESH_LAB_DIR:-/run/overmesh-lab}"; }
on() { local w=$1; shift; "$OM" lab exec --name "$LAB" "$w" -- "$@"; }  # run in host/client w
om() { local h=$1; shift; on "$h" "$OM" "$@"; }                          # CLI on host h

# --- the backend: nginx as the service's task --------------------------------------------------
# Writes the backend's config under the lab's run directory and prints its directory. The
# task's pid file is named after its hostname (the task's name), so replicas never share one.
write_backend_config() {
  local dir; dir="$(run_dir)/$LAB/backend"
  mkdir -p "$dir/tmp"
  cat >"$dir/backend.conf" <<EOF
# mesh_throughput.sh: the service's HTTP backend. Answers "<hostname> <client address>".
daemon off;
worker_processes 1;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen 80;
    listen 81;
    default_type text/plain;
    location / { return 200 "\$hostname \$remote_addr\n"; }
  }
}
EOF
  echo "$dir"
}
backend_command() {  # the task's command: nginx with that config and a pid file of its own
  local dir=$1
  echo "exec nginx -p $dir/ -e $dir/error.log -c $dir/backend.conf -g \"pid $dir/\$(hostname).pid;\""
}

# --- measuring ---------------------------------------------------------------------------------
# wrk_run WHERE URL MODE: one wrk run in WHERE (c1, h2); MODE close|keepalive. Prints
# "requests/s p99_ms".
wrk_run() {
  local where=$1 url=$2 mode=$3 out
  local header=()
  [[ $mode == close ]] && header=(-H "Connection: close")
  out=$(on "$where" wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "${header[@]}" "$url") ||
    die "wrk $url failed: $out"
  parse_wrk <<<"$out"
}
# wrk's text output -> "requests/s p99_ms" (its latency units: us, ms, s).
parse_wrk() {
  awk '/^Requests\/sec:/ {rps = $2}
       $1 == "99%" {v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                    p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v}
       END {if (rps == "") exit 1; printf "%.0f %.3f\n", rps, p99}'
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan";
  else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }
# percentile P: the P-th percentile (nearest rank) of the numbers on stdin.
percentile() { sort -g | awk -v p="$1" '{a[NR]=$1} END {if (NR == 0) {print "nan"; exit}
  r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR; print a[r]}'; }

# compare TITLE WHERE_A URL_A WHERE_B URL_B: for both modes, ROUNDS alternating runs of A
# (measured) and B (baseline); prints each run, the medians and the ratio A÷B.
compare() {
  local title=$1 wa=$2 ua=$3 wb=$4 ub=$5 mode r
  echo
  echo "$title"
  echo "  A = $wa -> $ua    B = $wb -> $ub   ($CONNS connections, ${SECS} s per run)"
  printf '  %-10s %-6s %12s %10s %12s %10s %9s\n' mode round "A req/s" "A p99 ms" "B req/s" \
    "B p99 ms" "A/B req"
  for mode in close keepalive; do
    local ra=() rb=() pa=() pb=()
    for r in $(seq "$ROUNDS"); do
      read -r a_rps a_p99 < <(wrk_run "$wa" "$ua" "$mode")
      read -r b_rps b_p99 < <(wrk_run "$wb" "$ub" "$mode")
      ra+=("$a_rps") rb+=("$b_rps") pa+=("$a_p99") pb+=("$b_p99")
      printf '  %-10s %-6s %12s %10s %12s %10s %9s\n' "$mode" "$r" "$a_rps" "$a_p99" "$b_rps" \
        "$b_p99" "$(awk -v a="$a_rps" -v b="$b_rps" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')"
    done
    local ma mb mpa mpb
    ma=$(printf '%s\n' "${ra[@]}" | median) mb=$(printf '%s\n' "${rb[@]}" | median)
    mpa=$(printf '%s\n' "${pa[@]}" | median) mpb=$(printf '%s\n' "${pb[@]}" | median)
    printf '  %-10s %-6s %12.0f %10.3f %12.0f %10.3f %9s\n' "$mode" median "$ma" "$mpa" "$mb" \
      "$mpb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')"
    SUMMARY+=("$title, $mode: A/B requests/s $(awk -v a="$ma" -v b="$mb" \
      'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}'), p99 A $mpa ms vs B $mpb ms")
  done
}

# answers WHERE URL: true once an HTTP request from WHERE gets a 200.
answers() {
  on "$1" curl -s -o /dev/null -m 2 --connect-timeout 1 -w '%{http_code}' "$2" 2>/dev/null |
    grep -qx 200
}
wait_answers() {  # wait_answers WHERE URL SECONDS
  local deadline=$((SECONDS + $3))
  until answers "$1" "$2"; do
    [[ $SECONDS -lt $deadline ]] || die "$2 does not answer from $1 within $3 s"
    sleep 0.2
  done
}

# Runs in c1, started before the update: waits for "go" on the FIFO $1, then polls every
# node's port $2 until each answered once; prints the milliseconds since "go" was read.
POLL_ALL='fifo=$1 port=$2; shift 2; : >"$fifo.ready"; read -r _ <"$fifo"
t0=$(date +%s%N)
for node in "$@"; do
  until curl -s -o /dev/null -m 0.5 --connect-timeout 0.2 "http://$node:$port/"; do :; done
done
echo $(( ($(date +%s%N) - t0) / 1000000 ))'

# poll_floor WORKDIR: the same poll of a port that already answers everywhere (the mesh's
# own port): what the measurement itself costs (a curl start per node, the FIFO hand-over).
poll_floor() {
  local fifo="$1/floor"
  mkfifo "$fifo"
  on c1 sh -c "$POLL_ALL" _ "$fifo" "$MESH_PORT" 198.18.0.1 198.18.0.2 198.18.0.3 \
    >"$1/poll.floor" &
  local poller=$! n=0
  until [[ -e $fifo.ready ]]; do (( ++n < 2000 )) || die "poller did not start"; sleep 0.005; done
  echo go >"$fifo"
  wait "$poller" || die "the floor's poller failed"
  cat "$1/poll.floor"
}

# publish_add_once PORT WORKDIR: ms from `--publish-add` returning to PORT answering on all.
publish_add_once() {
  local port=$1 work=$2 fifo="$2/go.$1"
  mkfifo "$fifo"
  on c1 sh -c "$POLL_ALL" _ "$fifo" "$port" 198.18.0.1 198.18.0.2 198.18.0.3 \
    >"$work/poll.$port" &
  local poller=$! n=0
  until [[ -e $fifo.ready ]]; do (( ++n < 2000 )) || die "poller did not start"; sleep 0.005; done
  om 1 service update --publish-add "published=$port,target=81" web >/dev/null ||
    die "service update --publish-add published=$port,target=81 web"
  echo go >"$fifo"   # returns once the poller read it: the clock starts there
  local waited=0
  while kill -0 "$poller" 2>/dev/null; do
    (( ++waited < 300 )) || { kill "$poller"; die "port $port did not answer on every node in 30 s"; }
    sleep 0.1
  done
  wait "$poller" || die "poller for port $port failed"
  cat "$work/poll.$port"
  om 1 service update --publish-rm "published=$port,target=81" web >/dev/null ||
    die "service update --publish-rm published=$port,target=81 web"
}

# --- main --------------------------------------------------------------------------------------
main() {
  cd "$(dirname "$0")/.."
  [[ $(id -u) -eq 0 ]] || die "run as root (the lab makes network namespaces)"
  for t in wrk nginx curl jq; do command -v "$t" >/dev/null || die "$t is not installed"; done
  find_binaries
  SUMMARY=()
  WORK=$(mktemp -d /tmp/mesh_throughput.XXXXXX)
  cleanup() {
    scripts/lab-nginx.sh stop "$LAB" c1 "$NGINX_PORT" >/dev/null 2>&1 || true
    scripts/lab-nginx.sh stop "$LAB" c1 "$FRONT_PORT" >/dev/null 2>&1 || true
    "$OM" lab down --name "$LAB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  "$OM" lab down --name "$LAB" >/dev/null 2>&1 || true  # left over by a crashed run
  "$OM" lab up --hosts 3 --clients 1 --name "$LAB" >/dev/null || die "lab up"

  local dir
  dir=$(write_backend_config)
  om 1 service create --name web --replicas 1 --constraint "node.hostname==$LAB-h2" \
    --publish "published=$MESH_PORT,target=80" \
    --publish "mode=host,published=$HOST_PORT,target=80" \
    -- sh -c "$(backend_command "$dir")" >/dev/null || die "service create web"
  wait_answers c1 "http://198.18.0.3:$MESH_PORT/" 30
  wait_answers c1 "http://198.18.0.2:$HOST_PORT/" 30
  echo "web answers through h3 (no replica): $(on c1 curl -s -m 2 "http://198.18.0.3:$MESH_PORT/")"
  local replica
  replica=$(om 1 ps --format json | jq -r '.[] | select(.serviceName == "web"
    and .state == "running") | .attachments[] | select(.networkName == "ingress")
    | .address | split("/")[0]' | head -n1)
  [[ $replica =~ ^[0-9.]+$ ]] || die "no ingress address for web's replica ($replica)"

  compare "Mesh (c1 -> h3, no replica -> h2's replica) vs host mode (c1 -> h2's replica)" \
    c1 "http://198.18.0.3:$MESH_PORT/" c1 "http://198.18.0.2:$HOST_PORT/"
  echo
  echo "Reference (not in any ratio): wrk in h2's own namespace -> the replica's ingress address"
  for mode in close keepalive; do
    read -r rps p99 < <(wrk_run h2 "http://$replica:80/" "$mode")
    printf '  %-10s %12s req/s   p99 %s ms\n' "$mode" "$rps" "$p99"
  done

  scripts/lab-nginx.sh start "$LAB" c1 "$NGINX_PORT" 198.18.0.1:$MESH_PORT \
    198.18.0.2:$MESH_PORT 198.18.0.3:$MESH_PORT >/dev/null || die "nginx over every node"
  scripts/lab-nginx.sh start "$LAB" c1 "$FRONT_PORT" 198.18.0.2:$HOST_PORT >/dev/null ||
    die "nginx straight to h2's host-mode port"
  wait_answers c1 "http://127.0.0.1:$NGINX_PORT/" 10
  wait_answers c1 "http://127.0.0.1:$FRONT_PORT/" 10
  compare "Two tiers: nginx in c1 over every node's :$MESH_PORT vs nginx in c1 over h2:$HOST_PORT only" \
    c1 "http://127.0.0.1:$NGINX_PORT/" c1 "http://127.0.0.1:$FRONT_PORT/"

  echo
  echo "service update --publish-add returned -> the port answers on h1, h2 and h3 (from c1), ms:"
  echo "  measuring floor (the same poll of :$MESH_PORT, which already answers): $(poll_floor "$WORK") ms"
  local times=() t port
  for i in $(seq "$TRIES"); do
    port=$((9100 + i))
    t=$(publish_add_once "$port" "$WORK")
    times+=("$t")
    printf '  try %-3s port %s: %s ms\n' "$i" "$port" "$t"
  done
  local p50 p99 max
  p50=$(printf '%s\n' "${times[@]}" | percentile 50)
  p99=$(printf '%s\n' "${times[@]}" | percentile 99)
  max=$(printf '%s\n' "${times[@]}" | sort -g | tail -1)
  printf '  p50 %s ms, p99 %s ms, max %s ms (%s tries)\n' "$p50" "$p99" "$max" "$TRIES"
  SUMMARY+=("publish-add -> answering on every node: p50 $p50 ms, p99 $p99 ms ($TRIES tries)")

  echo
  echo "summary:"
  printf '  %s\n' "${SUMMARY[@]}"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
