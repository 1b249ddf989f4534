#!/usr/bin/env bash
# Upgrade on running nodes (issue 14; docs/install.md "Upgrade"): a 3-host lab starts on the
# previous package version's overmeshd, runs tasks on every host and a TCP stream between two
# hosts, then each daemon is replaced by the new binary and restarted in turn, as
# `apt-get install` of the new package does on each host (the package's postinst runs
# `systemctl try-restart overmeshd`, and KillMode=process leaves the tasks' shims running).
# Passes when:
#   - each daemon's --version and API say the new version, and its process runs the new binary;
#   - every task keeps its ID, its shim's pid and its process's pid (no task restarted);
#   - the stream never broke: one TCP connection, every line in order with no gap, lines kept
#     arriving during the restarts (no pause over $max_gap s) and after them, and its sender
#     never saw an error;
#   - the tasks on the 3 hosts still reach each other by name.
#
# The previous version is commit $OVERMESH_PREVIOUS_COMMIT (default below: the 0.1.0 that
# landed last). Its overmesh and overmeshd are built from git in a temporary worktree (release
# preset, those two targets; the worktree is removed afterwards, also on failure) and kept in
# build/previous-<commit>/bin for the next run; OVERMESH_PREVIOUS_BUILD=DIR uses binaries built
# elsewhere instead (DIR/overmeshd or DIR/src/daemon/overmeshd, and overmesh beside it).
# The new binaries come from build/release (OVERMESH_BUILD_DIR=DIR for another build).
#
# Usage (as root; CI runs it in ../shared/tools/fresh-root after the package test):
#   tests/package/upgrade_test.sh
# The lab is removed on exit, also on failure (trap). Needs git history back to the
# previous commit (a shallow clone fails with a message saying how to fix it).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "upgrade_test: run as root (it makes a lab)" >&2; exit 2; }

previous_commit=${OVERMESH_PREVIOUS_COMMIT:-0e6f6d5}
previous_version=${OVERMESH_PREVIOUS_VERSION:-0.1.0}
new_version=$(sed -n 's/.*kVersion = "\([0-9.]*\)".*/\1/p' src/daemon/version.h)
build_dir=${OVERMESH_BUILD_DIR:-build/release}
max_gap=3 # seconds: the longest pause between two lines of the stream that still counts as flowing

started=$SECONDS
say() { printf '[%4d s] %s\n' "$((SECONDS - started))" "$*"; }
fail() {
  echo "upgrade_test: FAIL: $*" >&2
  exit 1
}

# ---- the previous version's binaries ---------------------------------------------------------
worktree=""
lab_made=""
run_dir=""
lab=""
cleanup() {
  local rc=$?
  if [ -n "$lab_made" ]; then
    if [ "$rc" -ne 0 ]; then
      for host in 1 2 3; do
        echo "---- end of h$host's overmeshd log ----" >&2
        tail -25 "$run_dir/$lab/h$host/overmeshd.log" >&2 || true
      done
    fi
    "$new_cli" lab down --name "$lab" --run-dir "$run_dir" > /dev/null || rc=1
  fi
  [ -z "$run_dir" ] || rm -rf "$run_dir"
  if [ -n "$worktree" ] && [ -d "$worktree" ]; then
    git worktree remove --force "$worktree" || rm -rf "$worktree"
    git worktree prune || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Binaries built elsewhere: DIR/overmeshd, or a build tree's DIR/src/daemon/overmeshd.
binaries_in() {
  local dir=$1
  if [ -x "$dir/overmeshd" ] && [ -x "$dir/overmesh" ]; then
    echo "$dir"
  elif [ -x "$dir/src/daemon/overmeshd" ] && [ -x "$dir/src/cli/overmesh" ]; then
    echo "BUILD:$dir"
  else
    return 1
  fi
}

if [ -n "${OVERMESH_PREVIOUS_BUILD:-}" ]; then
  found=$(binaries_in "$OVERMESH_PREVIOUS_BUILD") ||
    fail "OVERMESH_PREVIOUS_BUILD=$OVERMESH_PREVIOUS_BUILD holds no overmesh and overmeshd (looked for DIR/overmeshd and DIR/src/daemon/overmeshd)"
  if [[ "$found" == BUILD:* ]]; then
    old_daemon=${found#BUILD:}/src/daemon/overmeshd
    old_cli=${found#BUILD:}/src/cli/overmesh
  else
    old_daemon=$found/overmeshd
    old_cli=$found/overmesh
  fi
else
  command -v git > /dev/null || fail "git is not installed: the previous version is built from \
git history (scripts/setup.sh installs git), or set OVERMESH_PREVIOUS_BUILD=DIR"
  if ! git cat-file -e "$previous_commit^{commit}" 2> /dev/null; then
    fail "the previous version's commit $previous_commit is not in this clone (a shallow clone?): \
fetch the history (git fetch --unshallow, or git fetch origin $previous_commit), or build \
overmesh $previous_version elsewhere and set OVERMESH_PREVIOUS_BUILD=DIR"
  fi
  cache=build/previous-$(git rev-parse --short=7 "$previous_commit")
  old_daemon=$cache/bin/overmeshd
  old_cli=$cache/bin/overmesh
  if [ "$(cat "$cache/bin/commit" 2> /dev/null)" != "$(git rev-parse "$previous_commit")" ] ||
    [ ! -x "$old_daemon" ] || [ ! -x "$old_cli" ]; then
    say "building overmesh and overmeshd of $previous_commit (release preset) in $cache/src"
    rm -rf "$cache"
    mkdir -p "$cache"
    worktree=$cache/src
    git worktree add --quiet --detach "$worktree" "$previous_commit"
    (cd "$worktree" && scripts/build.sh release overmesh overmeshd) > "$cache/build.log" 2>&1 ||
      { tail -30 "$cache/build.log" >&2; fail "building $previous_commit failed (log: $cache/build.log)"; }
    mkdir -p "$cache/bin"
    cp "$worktree/build/release/src/daemon/overmeshd" "$worktree/build/release/src/cli/overmesh" "$cache/bin/"
    git rev-parse "$previous_commit" > "$cache/bin/commit"
    git worktree remove --force "$worktree"
    worktree=""
    say "built the previous version"
  else
    say "reusing the previous version's binaries in $cache/bin (built from $previous_commit)"
  fi
fi
old_daemon=$(realpath -m "$old_daemon")
old_cli=$(realpath -m "$old_cli")
new_daemon=$(realpath -m "$build_dir/src/daemon/overmeshd")
new_cli=$(realpath -m "$build_dir/src/cli/overmesh")
if [ ! -x "$new_daemon" ] || [ ! -x "$new_cli" ]; then
  fail "no new binaries in $build_dir (build them: scripts/build.sh release overmesh overmeshd)"
fi

"$old_daemon" --version | grep -qx "overmeshd $previous_version" ||
  fail "$old_daemon --version says '$("$old_daemon" --version)', not overmeshd $previous_version"
"$new_daemon" --version | grep -qx "overmeshd $new_version" ||
  fail "$new_daemon --version says '$("$new_daemon" --version)', not overmeshd $new_version"
[ "$previous_version" != "$new_version" ] ||
  fail "the new version ($new_version, src/daemon/version.h) is the previous one: bump it"
say "previous: $old_daemon ($previous_version); new: $new_daemon ($new_version)"

# ---- a lab on the previous version, with tasks and a stream ----------------------------------
run_dir=$(mktemp -d /tmp/overmesh-upgrade.XXXXXX)
lab=upg$(($$ % 1000))
lab_made=yes
lab_cmd() { "$new_cli" lab "$@" --name "$lab" --run-dir "$run_dir"; }
# in HOST CMD...: runs CMD in lab host HOST.
in_host() {
  local host=$1
  shift
  "$new_cli" lab exec --name "$lab" --run-dir "$run_dir" "$host" -- "$@"
}
lab_cmd up --hosts 3 --overmeshd "$old_daemon" > /dev/null
# The operator's CLI is the previous package's until the upgrade.
cli=$old_cli

nodes_ready() {
  in_host 1 "$cli" node ls --format json 2> /dev/null |
    jq -e 'length == 3 and all(.[]; .state == "ready")' > /dev/null
}
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local bound=$1 what=$2
  shift 2
  local deadline=$((SECONDS + bound))
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$what: not within $bound s"
    sleep 0.2
  done
}
wait_for 30 "every node ready on the previous version" nodes_ready
say "lab $lab is up on $previous_version"

in_host 1 "$cli" network create -d overlay --attachable --subnet 10.0.15.0/24 upgrade_net > /dev/null
for host in 1 2 3; do
  in_host 1 "$cli" run --name "echo$host" --node "$lab-h$host" --network upgrade_net -- \
    socat TCP-LISTEN:7,fork,reuseaddr 'SYSTEM:hostname; cat' > /dev/null
done
# The stream: `source` on h1 sends a numbered line every 0.1 s to `sink` on h2 over one TCP
# connection; the sink stamps each line with the time it arrived. A reset ends both socats:
# the sink's listener takes one connection only, and the source prints its exit status.
in_host 1 "$cli" run --name sink --node "$lab-h2" --network upgrade_net -- sh -c \
  'socat -u TCP-LISTEN:9000,reuseaddr - | while IFS= read -r line; do echo "$line $(date +%s.%N)"; done; echo sink-ended' > /dev/null
in_host 1 "$cli" run --name source --node "$lab-h1" --network upgrade_net -- sh -c \
  'i=0; while :; do echo "seq $i"; i=$((i+1)); sleep 0.1; done | socat -u - TCP:sink:9000,retry=50,interval=0.2; echo source-exit=$?' > /dev/null

tasks_running() {
  in_host 1 "$cli" ps --format json |
    jq -e 'length == 5 and all(.[]; .state == "running")' > /dev/null
}
wait_for 30 "the 5 tasks running" tasks_running
sink_lines() { in_host 1 "$cli" logs sink 2> /dev/null | grep -c '^seq ' || true; }
stream_flows() { [ "$(sink_lines)" -ge 10 ]; }
wait_for 30 "the stream's first lines at the sink" stream_flows

# Every task's ID, name, node, state, and its shim's and process's pid and start time (the
# task directory's shim.pid and task.pid hold "PID START", START in clock ticks after boot),
# each checked against /proc: "alive" only when both pids run and started at those times (a
# pid reused by another process has another start time). One line per task, sorted.
task_processes() {
  local tasks
  tasks=$(in_host 1 "$cli" ps --format json)
  jq -r '.[] | "\(.id) \(.name) \(.nodeName) \(.state)"' <<< "$tasks" | sort |
    while read -r id name node state; do
      local dir=$run_dir/$lab/h${node##*-h}/state/tasks/$id
      local line="$id $name $node $state" alive=alive file pid since
      for file in shim.pid task.pid; do
        pid=none since=none
        read -r pid since < "$dir/$file" 2> /dev/null || true
        [ "$(awk '{print $22}' "/proc/$pid/stat" 2> /dev/null)" = "$since" ] || alive=dead
        line+=" $file=$pid@$since"
      done
      echo "$line $alive"
    done
}
before=$(task_processes)
echo "$before" | sed 's/^/  before: /'
[ "$(grep -c ' running .* alive$' <<< "$before")" -eq 5 ] || fail "not every task runs before the upgrade"

# ---- the upgrade: replace and restart each daemon in turn -------------------------------------
cli=$new_cli
daemon_pid() { lab_cmd status --format json | jq -r ".hosts[$(($1 - 1))].pid"; }
# Workers first, the manager last, as docs/install.md says to upgrade.
for host in 2 3 1; do
  lines_before=$(sink_lines)
  restart_started=$SECONDS
  lab_cmd restart "$host" --overmeshd "$new_daemon" > /dev/null
  wait_for 30 "every node ready after h$host's restart" nodes_ready
  pid=$(daemon_pid "$host")
  [ "$(readlink "/proc/$pid/exe")" = "$new_daemon" ] ||
    fail "h$host's daemon (pid $pid) runs $(readlink "/proc/$pid/exe"), not $new_daemon"
  version=$(in_host "$host" "$cli" version --format json | jq -r .daemon.version)
  [ "$version" = "$new_version" ] || fail "h$host's daemon says version $version, not $new_version"
  say "h$host runs $new_version (pid $pid), ready again after $((SECONDS - restart_started)) s; the sink had $lines_before lines before"
done

# ---- what must have survived --------------------------------------------------------------
after=$(task_processes)
echo "$after" | sed 's/^/  after:  /'
[ "$before" = "$after" ] ||
  fail "tasks changed across the upgrade (a task restarted or was replaced):
$(diff <(echo "$before") <(echo "$after") || true)"
say "the same 5 tasks with the same shim and process pids, all running"

# Still flowing after the last restart.
count=$(sink_lines)
sleep 2
[ "$(sink_lines)" -gt "$count" ] || fail "the stream stopped: the sink got no line in 2 s after the upgrade"
# One connection, every line in order, no pause longer than max_gap.
sink_log=$(in_host 1 "$cli" logs sink)
source_log=$(in_host 1 "$cli" logs source)
! grep -q sink-ended <<< "$sink_log" || fail "the sink's connection ended"
! grep -q source-exit <<< "$source_log" || fail "the source's connection ended: $(grep source-exit <<< "$source_log")"
verdict=$(grep '^seq ' <<< "$sink_log" | awk -v max="$max_gap" '
  $2 != NR - 1 { print "line " NR " is seq " $2 ", expected " NR - 1; bad = 1; exit }
  NR > 1 && $3 - last > gap { gap = $3 - last }
  { last = $3; first = first ? first : $3 }
  END { if (!bad) { if (gap > max) print "a pause of " gap " s"; else printf "ok %d lines over %.1f s, longest pause %.2f s\n", NR, last - first, gap } }')
[[ "$verdict" == ok* ]] || fail "the stream broke: $verdict"
say "the stream never broke: ${verdict#ok }"

# The overlay still connects every host's task by name.
for from in 1 2 3; do
  for to in 1 2 3; do
    [ "$from" != "$to" ] || continue
    reaches() {
      in_host 1 "$cli" exec "echo$from" -- sh -c "echo hi | socat -T3 - TCP:echo$to:7,connect-timeout=3" 2> /dev/null |
        grep -qx "echo$to"
    }
    wait_for 20 "echo$from reaches echo$to by name" reaches
  done
done
say "the tasks on the 3 hosts reach each other by name"
echo "upgrade_test: $previous_version -> $new_version passed in $((SECONDS - started)) s"
