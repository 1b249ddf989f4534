#!/usr/bin/env bash
# lab-nginx.sh — an nginx in a lab client (or host) in front of several address:port
# upstreams: the seed's two-tier load balancing (nginx over every node's published port,
# each node's routing mesh over the replicas).
#
# Usage (as root):
#   scripts/lab-nginx.sh start  LAB WHERE PORT UPSTREAM...   # write the config, start nginx
#   scripts/lab-nginx.sh stop   LAB WHERE PORT               # stop that nginx (its own pid)
#   scripts/lab-nginx.sh config LAB WHERE PORT UPSTREAM...   # only write the config
#   e.g. scripts/lab-nginx.sh start om c1 8000 198.18.0.1:8080 198.18.0.2:8080 198.18.0.3:8080
#
#   LAB       the lab's name (`overmesh lab up --name LAB`)
#   WHERE     a client (c1, client1, LAB-c1) or a host (h2, 2, LAB-h2) of that lab
#   PORT      where nginx listens in WHERE's namespace, 1-65535
#   UPSTREAM  IPv4:PORT, one or more: every node's published port, or one backend
#
# Environment: OVERMESH_LAB_DIR (the lab's run directory, default /run/overmesh-lab),
# OVERMESH (the CLI; default: `overmesh` in PATH, else build/release or build/debug),
# NGINX_MAX_FAILS (default 1) and NGINX_FAIL_TIMEOUT (default 5s): nginx's passive health
# check (after MAX_FAILS failed attempts within FAIL_TIMEOUT an upstream gets no request for
# FAIL_TIMEOUT); NGINX_CONNECT_TIMEOUT (default 300ms); NGINX_ACCESS_LOG=on to log requests.
#
# Everything of one nginx lives in <run dir>/<LAB>/<c1|h2>/nginx-<PORT>/: nginx.conf, the
# pid file, error and access logs, temp directories. nginx is started with -p, -c and -e
# pointing there, so it never touches /etc/nginx's sites, /var/log/nginx or /run/nginx.pid
# of the machine, and it runs inside WHERE's network namespace only (through `overmesh lab
# exec`), so it listens on nothing of the machine's own. `lab down` also ends it: it runs in
# a lab namespace. `stop` kills only the pid in its own pid file, after checking that this
# pid is the master of this very config.
#
# Why these settings: a request that fails on one node (connection refused or reset, no
# answer within the connect timeout, a 502/503) is retried on the next node, also for
# non-idempotent methods (`proxy_next_upstream ... non_idempotent`: the mesh either
# delivered the request to no replica, or the node itself failed), so a node that stops
# costs no failed request; its passive check then keeps it out for FAIL_TIMEOUT. The
# client's own address goes to the backend in X-Real-IP and X-Forwarded-For (nginx's
# connection to the node carries nginx's address, not the client's).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "lab-nginx: $*" >&2; exit 2; }
usage() { sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 4 ] || usage
action=$1 lab=$2 where=$3 port=$4
shift 4
case "$action" in start | stop | config) ;; *) die "unknown action \"$action\": use start, stop or config" ;; esac
[[ $lab =~ ^[a-z0-9]{1,8}$ ]] || die "invalid lab name \"$lab\": 1-8 lower-case letters or digits"
[[ $port =~ ^[0-9]{1,5}$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
  die "invalid PORT \"$port\": a number from 1 to 65535"

# WHERE as its directory name in the lab: c<i> for a client, h<i> for a host.
w=${where#"$lab"-}
case "$w" in
  client[0-9] | client[0-9][0-9]) member="c${w#client}" ;;
  c[0-9] | c[0-9][0-9] | h[0-9] | h[0-9][0-9]) member=$w ;;
  [0-9] | [0-9][0-9]) member="h$w" ;;
  *) die "invalid WHERE \"$where\": a client (c1, client1, $lab-c1) or a host (h2, 2, $lab-h2)" ;;
esac
[ "${member:1}" -ge 1 ] 2> /dev/null || die "invalid WHERE \"$where\": numbers start at 1"

run_dir=${OVERMESH_LAB_DIR:-/run/overmesh-lab}
lab_dir="$run_dir/$lab"
[ -d "$lab_dir" ] || die "no lab \"$lab\" in $run_dir (set OVERMESH_LAB_DIR if it lives elsewhere)"
[ -d "$lab_dir/$member" ] || die "lab \"$lab\" has no $member (no $lab_dir/$member; clients come from \`overmesh lab up --clients N\`)"
dir="$lab_dir/$member/nginx-$port"
conf="$dir/nginx.conf"
pid_file="$dir/nginx.pid"

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

# The master of this config: the pid in its pid file, if that process is still an nginx
# master started with this config (a stale pid file may name a recycled pid).
our_master() {
  local pid
  [ -s "$pid_file" ] || return 1
  pid=$(tr -dc '0-9' < "$pid_file")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "nginx: master process.*$conf" || return 1
  echo "$pid"
}

if [ "$action" = stop ]; then
  pid=$(our_master) || { echo "lab-nginx: no nginx runs with $conf"; exit 0; }
  kill -TERM "$pid"
  for _ in $(seq 50); do
    [ -e "/proc/$pid" ] || { echo "lab-nginx: stopped nginx $pid ($member, port $port)"; exit 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2> /dev/null || true
  echo "lab-nginx: nginx $pid did not stop within 5 s: sent SIGKILL" >&2
  exit 0
fi

[ $# -ge 1 ] || die "no UPSTREAM given: name at least one IPv4:PORT (e.g. 198.18.0.1:8080)"
servers=""
for upstream in "$@"; do
  valid=1
  if [[ $upstream =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3}):([0-9]{1,5})$ ]]; then
    for i in 1 2 3 4; do [ "${BASH_REMATCH[$i]}" -le 255 ] || valid=0; done
    { [ "${BASH_REMATCH[5]}" -ge 1 ] && [ "${BASH_REMATCH[5]}" -le 65535 ]; } || valid=0
  else
    valid=0
  fi
  [ "$valid" -eq 1 ] || die "invalid UPSTREAM \"$upstream\": IPv4:PORT, e.g. 198.18.0.2:8080"
  servers+="    server $upstream max_fails=${NGINX_MAX_FAILS:-1} fail_timeout=${NGINX_FAIL_TIMEOUT:-5s};"$'\n'
done
[[ ${NGINX_MAX_FAILS:-1} =~ ^[0-9]+$ ]] || die "invalid NGINX_MAX_FAILS \"$NGINX_MAX_FAILS\": a number"
[[ ${NGINX_FAIL_TIMEOUT:-5s} =~ ^[0-9]+(ms|s)?$ ]] ||
  die "invalid NGINX_FAIL_TIMEOUT \"$NGINX_FAIL_TIMEOUT\": e.g. 5s or 500ms"
[[ ${NGINX_CONNECT_TIMEOUT:-300ms} =~ ^[0-9]+(ms|s)?$ ]] ||
  die "invalid NGINX_CONNECT_TIMEOUT \"$NGINX_CONNECT_TIMEOUT\": e.g. 300ms"
access_log="off"
[ "${NGINX_ACCESS_LOG:-off}" = on ] && access_log="$dir/access.log"

if [ "$action" = start ] && pid=$(our_master); then
  die "nginx $pid already runs with $conf; stop it first: $0 stop $lab $where $port"
fi
mkdir -p "$dir/tmp"
cat > "$conf.new" << EOF
# Written by scripts/lab-nginx.sh: lab $lab, $member, port $port. Every path is in $dir.
daemon on;
worker_processes 1;
pid $pid_file;
error_log $dir/error.log warn;

events {
  worker_connections 4096;
}

http {
  access_log $access_log;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;

  upstream nodes {
$servers    keepalive 32;
  }

  server {
    listen $port reuseport;
    location / {
      proxy_pass http://nodes;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_connect_timeout ${NGINX_CONNECT_TIMEOUT:-300ms};
      proxy_read_timeout 10s;
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_next_upstream_timeout 5s;
    }
  }
}
EOF
mv "$conf.new" "$conf"
nginx_in() { "$om" lab exec --name "$lab" --run-dir "$run_dir" "$member" -- nginx -p "$dir/" -e "$dir/error.log" -c "$conf" "$@"; }
nginx_in -t -q || die "nginx refuses $conf (see the lines above)"
if [ "$action" = config ]; then
  echo "$conf"
  exit 0
fi
nginx_in || die "nginx did not start in $member; see $dir/error.log"
for _ in $(seq 50); do
  if pid=$(our_master); then
    echo "lab-nginx: nginx $pid in $lab-$member listens on port $port; upstreams: $*"
    exit 0
  fi
  sleep 0.1
done
die "nginx wrote no pid to $pid_file within 5 s; see $dir/error.log"
