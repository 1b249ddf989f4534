#!/usr/bin/env bash
# The seed's last part, for a person to watch (and a check for CI, like scripts/demo.sh):
# `stack deploy` of compose files written for Docker Swarm (scripts/demo/*.yml), Docker's
# four network traps each shown with its message, and the seed's way out, a network
# created beforehand and declared external by several stacks:
#
#   1. the first part's standalone tasks and networks go (a clean cluster); h2 is labelled
#      role=provider, h3 role=consumer;
#   2. the seed's way out: `network create -d overlay --subnet=10.0.15.0/24 chaos_net`, then
#      a provider stack (legacy `external: name:`) on h2 and a consumer stack (`external:
#      true` + `name:`) on h3: the consumer reaches the provider by service name and alias
#      across hosts, and the provider's own eth0 address (what Dubbo registers) works from
#      the consumer, and back;
#   3. trap 1: a stack with no networks gets <stack>_default (overlay, not attachable,
#      labelled with the stack); trap 2: it reaches neither the provider's name nor its
#      address;
#   4. trap 3: a declared network without name: is created as <stack>_<key>;
#   5. trap 4: a declared network whose name exists is refused, and the message says how
#      to share it (external) or to get one's own (another name:); nothing was created;
#   6. stack ls, services, ps; stack rm removes every stack's services and own networks,
#      never chaos_net; then chaos_net goes too.
#
# Two ways to run it:
#   - sourced by scripts/demo.sh on its lab, after its registry serves web:1 and the nodes
#     know the registry: `source scripts/demo-stacks.sh; stacks_scenario`;
#   - on its own (`scripts/demo-stacks.sh`, as root): a lab of 3 hosts and 1 client with the
#     registry, the scenario, and the lab removed (also on failure or Ctrl-C).
# Every wait is bounded; every step checks what it shows and fails naming what went wrong.

# The name of the one running task of SERVICE ("" if none).
stack_task() {
  quiet 1 overmesh ps --format json | jq -r --arg s "$1" '[.[] | select(.serviceName == $s
    and .desiredState == "running" and .state == "running") | .name] | first // ""'
}
stack_task_runs() { [ -n "$(stack_task "$1")" ]; }
# fetch TASK URL: the first line of what TASK's wget gets from URL (bounded: 5 s).
fetch() {
  # timeout(1), not wget -T: Debian 12's busybox-static wget crashes (SIGSEGV) with -T.
  quiet 1 overmesh exec "$1" -- timeout 5 wget -q -O - "$2" | head -n1
}
serves() { [ "$(fetch "$1" "$2")" = "$3" ]; }  # serves TASK URL PAGE
shows_file() {
  echo "--- $1"
  sed '/^#/d' "$1"
  echo "---"
}

stacks_scenario() {
  say "Stacks: the first part's standalone tasks and networks go, for a clean cluster"
  local standalone n
  standalone=$(quiet 1 overmesh ps --format json | jq -r '.[] | select(.serviceId == "") | .name')
  if [ -n "$standalone" ]; then
    # shellcheck disable=SC2086  # one word per task name
    on 1 overmesh rm -f $standalone
  fi
  for n in chaos_net other_net; do
    if quiet 1 overmesh network inspect "$n" > /dev/null 2>&1; then
      echo "[h1]\$ overmesh network rm $n"
      within 30 quiet 1 overmesh network rm "$n" || fail "network rm $n failed"
    fi
  done
  echo "(h2 will run the provider, h3 the consumer: node labels, as a Swarm operator places them)"
  on 1 overmesh node update --label-add role=provider "$lab-h2"
  on 1 overmesh node update --label-add role=consumer "$lab-h3"

  say "The seed's way out: create the shared network first, with its own subnet"
  on 1 overmesh network create -d overlay --subnet=10.0.15.0/24 chaos_net

  say "A provider stack declaring chaos_net external (the seed's legacy form)"
  shows_file scripts/demo/provider.yml
  on 1 overmesh stack deploy -c scripts/demo/provider.yml prov
  say "A consumer stack declaring it external too (today's form: external: true + name:)"
  shows_file scripts/demo/consumer.yml
  on 1 overmesh stack deploy -c scripts/demo/consumer.yml cons
  within 90 stack_task_runs prov_provider || fail "prov_provider does not run"
  within 90 stack_task_runs cons_consumer || fail "cons_consumer does not run"
  on 1 overmesh stack ps prov
  on 1 overmesh stack ps cons
  local provider consumer
  provider=$(stack_task prov_provider)
  consumer=$(stack_task cons_consumer)
  quiet 1 overmesh ps --format json |
    jq -e --arg t "$provider" --arg h "$lab-h2" '.[] | select(.name == $t) | .nodeName == $h' \
      > /dev/null || fail "the provider does not run on h2"
  quiet 1 overmesh ps --format json |
    jq -e --arg t "$consumer" --arg h "$lab-h3" '.[] | select(.name == $t) | .nodeName == $h' \
      > /dev/null || fail "the consumer does not run on h3"

  say "The consumer (h3) reaches the provider (h2) by service name and by its alias, across hosts"
  local page target
  for target in prov_provider provider; do
    echo "[h1]\$ overmesh exec $consumer -- timeout 5 wget -q -O - http://$target/"
    within 20 serves "$consumer" "http://$target/" "web v1 $provider" ||
      fail "the consumer does not reach http://$target/"
    fetch "$consumer" "http://$target/"
  done
  say "The Dubbo case: the provider's own eth0 address, the one it would register, works from the consumer"
  on 1 overmesh exec "$provider" -- ip -4 -o addr show eth0
  local registered
  registered=$(quiet 1 overmesh exec "$provider" -- ip -4 -o addr show eth0 |
    awk '{print $4}' | cut -d/ -f1)
  [[ $registered == 10.0.15.* ]] || fail "the provider's eth0 holds \"$registered\", not 10.0.15.x"
  echo "[h1]\$ overmesh exec $consumer -- timeout 5 wget -q -O - http://$registered/"
  page=$(fetch "$consumer" "http://$registered/")
  echo "$page"
  [ "$page" = "web v1 $provider" ] || fail "the consumer does not reach $registered"
  echo "and back: the provider reaches the consumer by name"
  echo "[h1]\$ overmesh exec $provider -- timeout 5 wget -q -O - http://cons_consumer/"
  page=$(fetch "$provider" "http://cons_consumer/")
  echo "$page"
  [ "$page" = "web v1 $consumer" ] || fail "the provider does not reach cons_consumer"

  say "Trap 1: a stack that declares no network gets its own <stack>_default"
  shows_file scripts/demo/loner.yml
  local deployed
  echo "[h1]\$ overmesh stack deploy -c scripts/demo/loner.yml solo"
  deployed=$(quiet 1 overmesh stack deploy -c scripts/demo/loner.yml solo)
  echo "$deployed"
  grep -qxF "Creating network solo_default" <<< "$deployed" || fail "no solo_default was created"
  echo "[h1]\$ overmesh network inspect solo_default | jq '.[0] | {name, driver, attachable, labels}'"
  quiet 1 overmesh network inspect solo_default | jq '.[0] | {name, driver, attachable, labels}'
  quiet 1 overmesh network inspect solo_default |
    jq -e '.[0].attachable == false and .[0].labels["com.docker.stack.namespace"] == "solo"' \
      > /dev/null || fail "solo_default is attachable or lacks the stack's label"
  echo "(not attachable, as on Docker: a standalone task cannot join it)"
  refused_saying "not attachable" 1 overmesh run --network solo_default --name intruder -- sleep 60
  within 90 stack_task_runs solo_loner || fail "solo_loner does not run"
  local loner
  loner=$(stack_task solo_loner)

  say "Trap 2: stacks on different networks cannot talk: solo finds neither the provider's name nor its address"
  refused 1 overmesh exec "$loner" -- timeout 5 wget -q -O - http://prov_provider/
  echo "prov_provider: unknown in solo"
  refused 1 overmesh exec "$loner" -- timeout 5 wget -q -O - "http://$registered/"
  echo "$registered: unreachable from solo (the overlays are apart)"

  say "Trap 3: a declared network without name: is created with the stack's name in front"
  shows_file scripts/demo/declared.yml
  echo "[h1]\$ overmesh stack deploy -c scripts/demo/declared.yml app"
  deployed=$(quiet 1 overmesh stack deploy -c scripts/demo/declared.yml app)
  echo "$deployed"
  grep -qxF "Creating network app_backend" <<< "$deployed" || fail "app_backend was not created"
  on 1 overmesh network ls
  ! quiet 1 overmesh network inspect backend > /dev/null 2>&1 || fail "a network \"backend\" exists"
  echo "(\"backend\" in the file is app_backend in the cluster: write name: backend to get that name)"

  say "Trap 4: a declared network whose name already exists is refused, and the message says the way out"
  shows_file scripts/demo/taken.yml
  refused_saying "network with name chaos_net already exists" \
    1 overmesh stack deploy -c scripts/demo/taken.yml late
  [ "$(quiet 1 overmesh service ls --format json | jq '[.[] | select(.spec.name == "late_late")] | length')" -eq 0 ] ||
    fail "the refused deploy created late_late"
  echo "(nothing was created: the way out is the external declaration the provider and consumer use)"

  say "The stacks as the cluster sees them"
  on 1 overmesh stack ls
  on 1 overmesh stack services cons

  say "stack rm: each stack's services, then the networks it created; never the external chaos_net"
  echo "[h1]\$ overmesh stack rm prov cons solo app"
  local removed
  removed=$(quiet 1 overmesh stack rm prov cons solo app)
  echo "$removed"
  ! grep -q "chaos_net" <<< "$removed" || fail "stack rm removed chaos_net"
  grep -qxF "Removing network solo_default" <<< "$removed" || fail "solo_default was not removed"
  grep -qxF "Removing network app_backend" <<< "$removed" || fail "app_backend was not removed"
  on 1 overmesh network ls
  quiet 1 overmesh network inspect chaos_net > /dev/null || fail "chaos_net is gone"
  echo "chaos_net stays (external: the stacks used it, they did not create it); it goes when asked:"
  echo "[h1]\$ overmesh network rm chaos_net"
  within 30 quiet 1 overmesh network rm chaos_net || fail "network rm chaos_net failed"
}

# On its own: a lab of 3 hosts and 1 client (the registry) for the scenario, removed at the end.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  source scripts/demo-helpers.sh
  demo_prepare stack
  images=""
  cleanup() {
    local status=$?
    trap - EXIT INT TERM
    [ "$status" -eq 0 ] || print_daemon_logs
    overmesh lab down --name "$lab" > /dev/null 2>&1 || true
    [ -z "$images" ] || rm -rf "$images"
    exit "$status"
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  say "A lab of three hosts and one client (c1) serving the test image from a registry"
  overmesh lab up --hosts 3 --clients 1 --name "$lab"
  images=$(mktemp -d "${TMPDIR:-/tmp}/overmesh-demo-images.XXXXXX")
  scripts/test-image.sh "$images" 1
  scripts/lab-registry.sh start "$lab"
  scripts/lab-registry.sh push "$lab" "$images/web-1.tar" web:1
  on 1 overmesh swarm update --insecure-registry 198.18.0.101:5000
  stacks_scenario
  say "The lab is removed when the demo ends"
fi
