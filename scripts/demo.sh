#!/usr/bin/env bash
# The main job: the seed's scenario on a lab of three simulated hosts, for a person to
# watch. Every host is a network namespace on one underlay bridge (198.18.0.0/24) running
# its own overmeshd; nothing touches the machine's own network namespace, and the lab is
# removed at the end (also on failure or Ctrl-C).
#
#   1. a swarm of three nodes (`node ls`);
#   2. the seed's network: `network create -d overlay --subnet=10.0.15.0/24 chaos_net`,
#      and an overlapping subnet refused with a clear message;
#   3. one container (task) on each host, each with its 10.0.15.x address on eth0;
#   4. each reaches the others across hosts (ping and TCP), and two tasks on one host
#      both listen on port 80;
#   5. a service of three replicas on chaos_net, found by name from every host through the
#      embedded DNS and reached through its virtual IP; a host running a replica stopped
#      while a client keeps connecting; scale to five; remove. The service runs an OCI
#      image built offline from busybox-static (scripts/test-image.sh) and served by a
#      registry inside the lab (scripts/lab-registry.sh, client c1): every host pulls it,
#      pinned to the digest the registry gave at `service create`;
#   6. the routing mesh (scripts/demo-mesh.sh);
#   7. stacks (scripts/demo-stacks.sh): compose files deployed as on Docker Swarm, Docker's
#      four network traps each with its message, and the seed's way out: chaos_net created
#      first and declared external by a provider and a consumer stack, which reach each
#      other by service name across hosts while a stack on its own network cannot.
#
# It is also a test (CI runs it): every step checks that it did what it shows, and the
# demo exits non-zero at the first one that did not. Every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/demo-helpers.sh
demo_prepare demo

# On failure the daemons' logs are kept (and their ends printed) before the lab goes.
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "${loop_pid:-}" ]; then
    kill "$loop_pid" 2> /dev/null || true
  fi
  [ "$status" -eq 0 ] || print_daemon_logs "${TMPDIR:-/tmp}/overmesh-demo-$lab"
  overmesh lab down --name "$lab" > /dev/null 2>&1 || true
  rm -f "/tmp/demo-$lab-loop" "/tmp/demo-$lab-loop-done"  # after the loop's task is gone
  [ -n "${images:-}" ] && rm -rf "$images"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A command that fails outside the demo's own checks is named, with its line.
set -E
trap 'printf "\033[1;31mdemo: line %s: %s failed (status %s)\033[0m\n" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR

say "A lab of three hosts, each running overmeshd (h1 is the manager), and an outside client c1"
overmesh lab up --hosts 3 --clients 1 --name "$lab"
on 2 overmesh node ls

registry=198.18.0.101:5000
say "A registry in the lab (client c1, $registry) serving an image built offline from busybox-static"
images=$(mktemp -d "${TMPDIR:-/tmp}/overmesh-demo-images.XXXXXX")
echo "\$ scripts/test-image.sh $images 1"
scripts/test-image.sh "$images" 1
echo "\$ scripts/lab-registry.sh start $lab && scripts/lab-registry.sh push $lab $images/web-1.tar web:1"
scripts/lab-registry.sh start "$lab"
scripts/lab-registry.sh push "$lab" "$images/web-1.tar" web:1
digest=$(quiet c1 skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$registry/web:1")
[[ $digest == sha256:* ]] || fail "the registry serves no digest for web:1"
echo "(the registry speaks plain HTTP: every node is told so)"
on 1 overmesh swarm update --insecure-registry "$registry"

say "The seed's network, with its own subnet"
on 1 overmesh network create -d overlay --attachable --subnet=10.0.15.0/24 chaos_net
refused 1 overmesh network create -d overlay --subnet=10.0.15.128/25 chaos_net2
on 3 overmesh network inspect chaos_net --format json

say "One container per host on chaos_net; each listens on TCP port 80"
for h in 1 2 3; do
  on 1 overmesh run --network chaos_net --name web$h --node "$lab-h$h" -- \
    socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo hello from $(hostname)'
done
on 1 overmesh run --network chaos_net --name web1b --node "$lab-h1" -- \
  socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo hello from $(hostname)'
on 1 overmesh ps

say "Each container's eth0 holds its overlay address (what Dubbo would register)"
for t in web1 web2 web3; do on 1 overmesh exec "$t" -- ip -4 -br addr show eth0; done

say "Across hosts, by overlay address: ICMP and TCP"
addr() {  # the overlay address on a task's eth0
  overmesh lab exec --name "$lab" 1 -- overmesh exec "$1" -- ip -4 -o addr show eth0 |
    awk '{print $4}' | cut -d/ -f1
}
for from in web1 web2 web3; do
  for to in web1 web2 web3 web1b; do
    [ "$from" = "$to" ] && continue
    ip=$(addr "$to")
    command="ping -c1 -W2 $ip > /dev/null && socat -T2 - TCP:$ip:80 </dev/null"
    echo "[h1]\$ $(shown overmesh exec "$from" -- sh -c "$command")"
    reply=$(quiet 1 overmesh exec "$from" -- sh -c "$command") || fail "$from -> $to ($ip) failed"
    echo "$from -> $to ($ip): ping ok, TCP: $reply"
    [ "$reply" = "hello from $to" ] || fail "$from -> $to: expected \"hello from $to\""
  done
done

say "Containers on different networks cannot reach each other"
on 1 overmesh network create -d overlay --attachable --subnet=10.0.16.0/24 other_net
on 1 overmesh run --network other_net --name stranger --node "$lab-h2" -- sleep 3600
refused 1 overmesh exec stranger -- ping -c1 -W1 "$(addr web1)"
echo "stranger -> web1: unreachable, as it should be"

# ---------------------------------------------------------------------------------------
# Services: replicas the cluster keeps alive, found by name, reached through one address.

# The demo's checks read the CLI's JSON (on h1, not shown).
web_running() {  # "name address node" of web's tasks that should run and run, by name
  quiet 1 overmesh ps --format json | jq -r '.[] | select(.serviceName == "web"
    and .desiredState == "running" and .state == "running")
    | "\(.name) \(.attachments[0].address | split("/")[0]) \(.nodeName)"' | sort
}
running_count_is() { [ "$(web_running | wc -l)" -eq "$1" ]; }
running_addresses() { web_running | awk '{print $2}' | sort; }
resolves() {  # resolves TASK NAME: the IPv4 addresses NAME has in TASK, sorted
  quiet 1 overmesh exec "$1" -- getent hosts "$2" | awk '{print $1}' | sort
}
tasks_web_is_running_set() {  # tasks.web, asked in task $1, lists exactly the running replicas
  local answer
  answer=$(resolves "$1" tasks.web) || return 1
  [ -n "$answer" ] && [ "$answer" = "$(running_addresses)" ]
}

say "A service: three replicas of a server from the lab registry's image on chaos_net, spread over the hosts"
echo "(each answers a TCP connection with its hostname: busybox nc, the image's own tool)"
on 1 overmesh service create --name web --replicas 3 --network chaos_net \
  --image "$registry/web:1" -- nc -ll -p 80 -e /bin/hostname
on 1 overmesh service ls
on 1 overmesh service ps web
running_count_is 3 || fail "service create returned, but 3 replicas do not run"
[ "$(web_running | awk '{print $3}' | sort -u | wc -l)" -eq 3 ] ||
  fail "the 3 replicas are not on 3 hosts: $(web_running)"
vip=$(quiet 1 overmesh service inspect web | jq -r '.[0].vips[0].address | split("/")[0]')
[ -n "$vip" ] && [ "$vip" != null ] || fail "service inspect web shows no VIP"
pinned=$(quiet 1 overmesh service inspect web | jq -r '.[0].spec.container.image')
echo "web runs $pinned"
[ "$pinned" = "$registry/web:1@$digest" ] ||
  fail "web's image is not pinned to the registry's digest $digest"
for h in 1 2 3; do
  on $h overmesh image ls
  quiet $h overmesh image ls | grep -qF "$registry/web" || fail "h$h did not pull $registry/web"
done

say "A client on every host finds web by name: the service's virtual IP, and tasks.web"
echo "(web's VIP is $vip; every task asks the agent's resolver at 127.0.0.11 in its own namespace)"
for h in 1 2 3; do
  on 1 overmesh run -d --network chaos_net --name client$h --node "$lab-h$h" -- sleep 3600
  within 20 quiet 1 overmesh exec client$h -- true || fail "client$h did not start"
  within 10 tasks_web_is_running_set client$h || fail "client$h: tasks.web is not the 3 replicas"
  on 1 overmesh exec client$h -- getent hosts web
  [ "$(resolves client$h web)" = "$vip" ] || fail "client$h: web does not resolve to the VIP $vip"
  on 1 overmesh exec client$h -- getent hosts tasks.web
  tasks_web_is_running_set client$h || fail "client$h: tasks.web is not the 3 running replicas"
done

say "The image's own command (no command given): a web page naming the task and the image's version"
on 1 overmesh run -d --network chaos_net --name page --node "$lab-h2" --image "$registry/web:1"
within 60 quiet 1 overmesh exec page -- true || fail "page did not start"
page_ip=$(addr page)
page_is_served() {
  [ "$(quiet 1 overmesh exec client1 -- curl -s --max-time 3 "http://$page_ip/")" = "web v1 page" ]
}
within 10 page_is_served || fail "page ($page_ip) does not serve \"web v1 page\""
on 1 overmesh exec client1 -- curl -s --max-time 3 "http://$page_ip/"

connections() {  # connections TASK N: N connections to web:80 from TASK, shown; sets $replies
  local command="for i in \$(seq $2); do socat -T2 - TCP:web:80,connect-timeout=2 </dev/null || echo FAILED; done"
  echo "[h1]\$ $(shown overmesh exec "$1" -- sh -c "$command")"
  replies=$(quiet 1 overmesh exec "$1" -- sh -c "$command")
  echo "$replies"
}
check_replies() {  # check_replies N REPLIES: N replies, each from a running replica
  local names
  names=$(web_running | awk '{print $1}')
  [ "$(printf '%s\n' "$2" | grep -c .)" -eq "$1" ] || fail "expected $1 replies, got: $2"
  printf '%s\n' "$2" | grep -q FAILED && fail "a connection to web:80 failed"
  while read -r reply; do
    grep -qxF "$reply" <<< "$names" || fail "\"$reply\" is not a running replica of web"
  done <<< "$2"
}

say "Connections to web:80 from client1, each to one live replica (chosen in client1's own namespace)"
seen=""
for round in 1 2 3; do  # random choice: 9 connections miss a replica 8% of the time
  connections client1 9
  check_replies 9 "$replies"
  seen=$(printf '%s\n%s\n' "$seen" "$replies" | grep . | sort -u)
  [ "$(wc -l <<< "$seen")" -eq 3 ] && break
  [ "$round" -lt 3 ] || fail "27 connections did not reach all 3 replicas"
  echo "(not every replica answered yet: 9 more)"
done
echo "all 3 replicas answered"

say "A host running a replica stops while client1 keeps connecting"
victim_host=3
victim=$(web_running | awk -v h="$lab-h$victim_host" '$3 == h {print $1}') || true
[ -n "$victim" ] || fail "no replica on h$victim_host"
echo "h$victim_host runs $victim; client1 connects in a loop meanwhile"
# The client loop: one connection every 50 ms until the demo says stop (at most 60 s). exec
# returns a command's output when it ends, so the loop writes its replies to a file of the
# host's /tmp, which tasks share, for the demo to follow while it runs.
loop_out="/tmp/demo-$lab-loop"
stop_file="/tmp/demo-$lab-loop-done"
rm -f "$loop_out" "$stop_file"
quiet 1 overmesh exec client1 -- sh -c \
  "end=\$((\$(date +%s) + 60)); while [ ! -e $stop_file ] && [ \$(date +%s) -lt \$end ]; do
     socat -T2 - TCP:web:80,connect-timeout=2 </dev/null >> $loop_out || echo FAILED >> $loop_out
     sleep 0.05; done" &
loop_pid=$!
within 10 grep -q . "$loop_out" || fail "the client loop does not connect"
echo "\$ overmesh lab stop --name $lab h$victim_host"
overmesh lab stop --name "$lab" "h$victim_host"
replacement_runs() {
  running_count_is 3 && ! web_running | awk '{print $1}' | grep -qxF "$victim"
}
within 30 replacement_runs || fail "no replacement for $victim runs: $(web_running)"
find_replacement() {  # the running replica that answered none of the first connections
  replacement=$(web_running | awk '{print $1}' | grep -vxF "$seen" | head -n1) &&
    [ -n "$replacement" ]
}
within 10 find_replacement || fail "cannot tell the replacement among: $(web_running)"
# Until the replacement has answered client1 a few times (bounded).
replacement_answered() { [ "$(grep -cxF "$replacement" "$loop_out")" -ge 3 ]; }
within 15 replacement_answered ||
  fail "the replacement $replacement never answered client1"
touch "$stop_file"
wait "$loop_pid" || fail "the client loop failed: $(tail -n 3 "$loop_out")"
loop_pid=""
rm -f "$stop_file"
on 1 overmesh service ps web
total=$(grep -c . "$loop_out")
failed=$(grep -c FAILED "$loop_out" || true)
echo "client1's loop: $total connections, $failed failed; answers by replica:"
sort "$loop_out" | uniq -c | while read -r count name; do
  note=""
  [ "$name" = "$victim" ] && note="   (on h$victim_host, until h$victim_host was declared down)"
  [ "$name" = "$replacement" ] && note="   (its replacement)"
  printf '  %4d %s%s\n' "$count" "$name" "$note"
done
[ "$failed" -eq 0 ] || fail "$failed connections failed while h$victim_host stopped"
# client1's agent applies h3 going down before it can see the replacement run (its watch
# delivers changes in order): once the replacement answered, the stopped replica gets
# nothing more.
late=$(awk -v r="$replacement" -v v="$victim" '$0 == r {seen = 1} seen && $0 == v {n++} END {print n + 0}' "$loop_out")
[ "$late" -eq 0 ] || fail "$victim still got $late connections after its replacement answered"
echo "once the replacement answered, $victim got no more connections"
within 10 tasks_web_is_running_set client1 || fail "client1: tasks.web is not the 3 running replicas"
on 1 overmesh exec client1 -- getent hosts tasks.web
rm -f "$loop_out"

say "The host comes back: its old task is stopped, not run next to its replacement"
echo "\$ overmesh lab start --name $lab h$victim_host"
overmesh lab start --name "$lab" "h$victim_host"
host_ready() {
  quiet 1 overmesh node ls --format json |
    jq -e --arg h "$lab-h$victim_host" '.[] | select(.hostname == $h) | .state == "ready"'
}
old_task_stopped() {
  quiet 1 overmesh ps --format json |
    jq -e --arg n "$victim" '[.[] | select(.name == $n and .state == "running")] | length == 0'
}
within 20 host_ready || fail "h$victim_host is not ready again"
within 20 old_task_stopped || fail "$victim still runs on h$victim_host"
on 1 overmesh node ls
on 1 overmesh service ps web
running_count_is 3 || fail "not 3 replicas after h$victim_host came back: $(web_running)"

say "Scale to five"
on 1 overmesh service scale web=5
running_count_is 5 || fail "service scale returned, but 5 replicas do not run"
within 10 tasks_web_is_running_set client2 || fail "client2: tasks.web is not the 5 replicas"
on 1 overmesh exec client2 -- getent hosts tasks.web
connections client2 10
check_replies 10 "$replies"

say "Remove it: its name and its VIP go away"
on 1 overmesh service rm web
on 1 overmesh service ls
name_gone() { ! quiet 1 overmesh exec client3 -- getent hosts web; }
within 10 name_gone || fail "web still resolves after service rm"
refused 1 overmesh exec client3 -- getent hosts web
echo "web: unknown now"

# The seed's routing mesh and two tiers of load balancing (scripts/demo-mesh.sh).
source scripts/demo-mesh.sh
mesh_scenario

# The seed's stacks: Docker's four network traps and the shared chaos_net (scripts/demo-stacks.sh).
source scripts/demo-stacks.sh
stacks_scenario

say "The lab is removed when the demo ends"
