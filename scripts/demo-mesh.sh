#!/usr/bin/env bash
# The seed's routing-mesh scenario, for a person to watch (and a check for CI, like
# scripts/demo.sh): a published port answers on every node, also on one with no replica;
# each replica sees the outside client's own address; nginx in the client in front of every
# node gives two tiers of load balancing, and a node stopped and started again meanwhile
# costs no failed request.
#
#   1. `web`: 2 replicas on h1 and h2 (none may run on h3), published as 8080; each answers
#      "<its hostname> <the client address it saw>" (Debian's nginx, run as the task);
#   2. from client c1 (198.18.0.101, outside the cluster: no overmeshd), requests to
#      h3:8080 (no replica there) are answered by both replicas, each showing 198.18.0.101;
#      h1:8080 and h2:8080 answer too;
#   3. nginx in c1 (scripts/lab-nginx.sh) with an upstream of all three nodes' :8080;
#      a request loop through it while h2's daemon is stopped and started again (`lab stop
#      h2`, `lab start h2`); prints how many requests failed (must be zero) and which
#      replicas answered.
#
# Two ways to run it:
#   - sourced by scripts/demo.sh on its lab (built with `lab up --clients 1`), after the
#     helpers of scripts/demo-helpers.sh: `source scripts/demo-mesh.sh; mesh_scenario`;
#   - on its own (`scripts/demo-mesh.sh`, as root): builds a lab of 3 hosts and 1 client,
#     runs the scenario and removes the lab (also on failure or Ctrl-C).
# Every wait is bounded; every step checks what it shows and fails naming what went wrong.

# The backend's nginx config in the lab's run directory (tasks run on the host filesystem);
# each replica's pid file is named after its hostname (the task's name).
mesh_backend_command() {
  local dir="$lab_dir/mesh-backend"
  mkdir -p "$dir/tmp"
  cat > "$dir/nginx.conf" << EOF
# scripts/demo-mesh.sh: web's replicas answer "<hostname> <client address>".
daemon off;
worker_processes 1;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 80;
    default_type text/plain;
    location / { return 200 "\$hostname \$remote_addr\n"; }
  }
}
EOF
  echo "exec nginx -p $dir/ -e $dir/error.log -c $dir/nginx.conf -g \"pid $dir/\$(hostname).pid;\""
}

# "name node" of web's replicas that should run and run.
mesh_replicas() {
  quiet 1 overmesh ps --format json | jq -r '.[] | select(.serviceName == "web"
    and .desiredState == "running" and .state == "running") | "\(.name) \(.nodeName)"' | sort
}

# mesh_requests WHERE URL N: N requests from WHERE (c1) to URL, shown; sets $replies.
mesh_requests() {
  local command="for i in \$(seq $3); do curl -sf -m 3 $2 || echo FAILED; done"
  echo "[$1]\$ $(shown sh -c "$command")"
  replies=$(quiet "$1" sh -c "$command")
  echo "$replies"
}

# mesh_check_replies N: $replies holds N answers, each "<running replica> 198.18.0.101".
mesh_check_replies() {
  local names reply name address
  names=$(mesh_replicas | awk '{print $1}')
  [ "$(printf '%s\n' "$replies" | grep -c .)" -eq "$1" ] || fail "expected $1 replies, got: $replies"
  while read -r name address; do
    [ "$name" != FAILED ] || fail "a request failed"
    grep -qxF "$name" <<< "$names" || fail "\"$name\" is not a running replica of web"
    [ "$address" = 198.18.0.101 ] ||
      fail "$name saw the client as \"$address\", not as c1's own address 198.18.0.101"
  done <<< "$replies"
}

mesh_scenario() {
  local client_address=198.18.0.101
  say "Routing mesh: web publishes port 8080 on every node; its 2 replicas run on h1 and h2"
  on 1 overmesh service create --name web --replicas 2 --constraint "node.hostname!=$lab-h3" \
    --publish published=8080,target=80 -- sh -c "$(mesh_backend_command)"
  on 1 overmesh service ls
  on 1 overmesh service ps web
  local nodes
  nodes=$(mesh_replicas | awk '{print $2}' | sort -u | tr '\n' ' ')
  [ "$nodes" = "$lab-h1 $lab-h2 " ] || fail "web's replicas are not on h1 and h2: $(mesh_replicas)"

  say "Client c1 ($client_address) is outside the cluster: it runs no overmeshd"
  on c1 ip -4 -br addr show eth0
  refused c1 overmesh node ls

  say "From c1, h3:8080 answers although h3 runs no replica; each replica sees c1's own address"
  within 20 quiet c1 curl -sf -m 2 http://198.18.0.3:8080/ || fail "h3:8080 does not answer c1"
  local seen="" round
  for round in 1 2 3; do  # random choice: 10 requests miss one of 2 replicas 0.2% of the time
    mesh_requests c1 http://198.18.0.3:8080/ 10
    mesh_check_replies 10
    seen=$(printf '%s\n%s\n' "$seen" "$(awk '{print $1}' <<< "$replies")" | grep . | sort -u)
    [ "$(wc -l <<< "$seen")" -eq 2 ] && break
    [ "$round" -lt 3 ] || fail "30 requests through h3 did not reach both replicas"
  done
  echo "both replicas answered through h3, and each saw $client_address (no SNAT)"
  for h in 1 2; do
    mesh_requests c1 "http://198.18.0.$h:8080/" 4
    mesh_check_replies 4
  done

  say "Two tiers: nginx in c1 in front of every node's :8080 (the seed's recommendation)"
  echo "\$ $(shown scripts/lab-nginx.sh start "$lab" c1 8000 198.18.0.1:8080 198.18.0.2:8080 198.18.0.3:8080)"
  OVERMESH_LAB_DIR="${lab_dir%/*}" scripts/lab-nginx.sh start "$lab" c1 8000 \
    198.18.0.1:8080 198.18.0.2:8080 198.18.0.3:8080
  within 10 quiet c1 curl -sf -m 2 http://127.0.0.1:8000/ || fail "nginx in c1 does not answer"
  mesh_requests c1 http://127.0.0.1:8000/ 6
  mesh_check_replies 6

  say "A request loop through nginx while h2's daemon is stopped and started again"
  local loop_out="$lab_dir/c1/mesh-loop" stop_file="$lab_dir/c1/mesh-loop-done"
  rm -f "$loop_out" "$stop_file"
  # One request every 50 ms until the demo says stop (at most 120 s); curl -f counts an
  # HTTP error (nginx's 502 when no upstream answered) as a failure.
  quiet c1 sh -c "end=\$((\$(date +%s) + 120)); while [ ! -e $stop_file ] && [ \$(date +%s) -lt \$end ]; do
      curl -sf -m 3 http://127.0.0.1:8000/ || echo FAILED; sleep 0.05; done" > "$loop_out" &
  loop_pid=$!
  within 10 grep -q . "$loop_out" || fail "the request loop does not get answers"
  echo "\$ overmesh lab stop --name $lab h2"
  overmesh lab stop --name "$lab" h2
  moved_off_h2() {  # 2 replicas run, none on h2
    [ "$(mesh_replicas | wc -l)" -eq 2 ] && ! mesh_replicas | grep -q " $lab-h2\$"
  }
  within 40 moved_off_h2 || fail "web's replica on h2 was not replaced: $(mesh_replicas)"
  on 1 overmesh service ps web
  sleep 2
  echo "\$ overmesh lab start --name $lab h2"
  overmesh lab start --name "$lab" h2
  h2_ready() {
    quiet 1 overmesh node ls --format json |
      jq -e --arg h "$lab-h2" '.[] | select(.hostname == $h) | .state == "ready"'
  }
  within 20 h2_ready || fail "h2 is not ready again"
  sleep 2
  touch "$stop_file"
  wait "$loop_pid" || fail "the request loop failed: $(tail -n 3 "$loop_out")"
  loop_pid=""
  local total failed
  total=$(grep -c . "$loop_out" || true)
  failed=$(grep -c '^FAILED$' "$loop_out" || true)
  echo "c1's loop through nginx: $total requests, $failed failed; answers by replica (and the client address each saw):"
  grep -v '^FAILED$' "$loop_out" | sort | uniq -c | while read -r count name address; do
    printf '  %4d %s (saw %s)\n' "$count" "$name" "$address"
  done
  [ "$failed" -eq 0 ] || fail "$failed requests failed while h2 was stopped and started"
  ! grep -v '^FAILED$' "$loop_out" | awk '{print $2}' | grep -vqxF "$client_address" ||
    fail "a replica saw another address than $client_address"
  rm -f "$loop_out" "$stop_file"

  say "Remove nginx and the service: port 8080 closes on every node"
  OVERMESH_LAB_DIR="${lab_dir%/*}" scripts/lab-nginx.sh stop "$lab" c1 8000
  on 1 overmesh service rm web
  closed_everywhere() {
    local h
    for h in 1 2 3; do
      ! quiet c1 curl -sf -m 1 "http://198.18.0.$h:8080/" || return 1
    done
  }
  within 10 closed_everywhere || fail "port 8080 still answers after service rm"
  echo "8080: closed on h1, h2 and h3"
}

# On its own: a lab of 3 hosts and 1 client for the scenario, removed at the end.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  source scripts/demo-helpers.sh
  demo_prepare mesh
  cleanup() {
    local status=$?
    trap - EXIT INT TERM
    [ -z "${loop_pid:-}" ] || kill "$loop_pid" 2> /dev/null || true
    [ "$status" -eq 0 ] || print_daemon_logs
    overmesh lab down --name "$lab" > /dev/null 2>&1 || true
    exit "$status"
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  say "A lab of three hosts and one client outside the cluster"
  overmesh lab up --hosts 3 --clients 1 --name "$lab"
  mesh_scenario
  say "The lab is removed when the demo ends"
fi
