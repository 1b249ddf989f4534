# The demos' helpers (sourced by scripts/demo.sh, demo-mesh.sh and demo-stacks.sh): show a step,
# run a command on a lab host or client as a user would type it, check, retry with a bound.
# They act on the lab named $lab.

say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
fail() {
  printf '\033[1;31mdemo: %s\033[0m\n' "$*" >&2
  exit 1
}
shown() {  # the words of a command as a user would type them, quoted where needed
  local out="" word
  for word in "$@"; do
    if [[ "$word" =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then
      out+=" $word"
    else
      out+=" '${word//\'/\'\\\'\'}'"
    fi
  done
  printf '%s' "${out# }"
}
on() {  # on HOST CMD...: runs a command on a lab host (2) or client (c1), showing it
  local host=$1
  shift
  local who=$host
  [[ $who =~ ^[0-9]+$ ]] && who="h$who"
  echo "[$who]\$ $(shown "$@")"
  overmesh lab exec --name "$lab" "$host" -- "$@"
}
quiet() {  # quiet HOST CMD...: the same, for the demo's own checks (not shown)
  local host=$1
  shift
  overmesh lab exec --name "$lab" "$host" -- "$@"
}
refused() {  # refused HOST CMD...: shows a command that must fail, and fails if it does not
  if on "$@"; then
    fail "this should have been refused: $(shown "${@:2}")"
  fi
}
within() {  # within SECONDS CMD...: retries CMD quietly until it succeeds; fails after SECONDS
  local deadline=$((SECONDS + $1))
  shift
  until "$@" > /dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
refused_saying() {  # refused_saying TEXT HOST CMD...: shows a command that must fail with TEXT in its output
  local text=$1 output
  shift
  local who=$1
  [[ $who =~ ^[0-9]+$ ]] && who="h$who"
  echo "[$who]\$ $(shown "${@:2}")"
  if output=$(overmesh lab exec --name "$lab" "$1" -- "${@:2}" 2>&1); then
    printf '%s\n' "$output"
    fail "this should have been refused: $(shown "${@:2}")"
  fi
  printf '%s\n' "$output"
  [[ $output == *"$text"* ]] || fail "refused, but without saying \"$text\""
}

# demo_prepare PREFIX: the set-up, the release build and the PATH every demo script needs,
# and a lab name of its own (PREFIX and the PID, 8 characters at most) in $lab, its
# directory in $lab_dir.
demo_prepare() {
  scripts/setup.sh > /dev/null
  scripts/build.sh release overmesh overmeshd > /dev/null
  bin="$PWD/build/release/src"
  export PATH="$bin/cli:$bin/daemon:$PATH"
  lab="$1$$"
  lab="${lab:0:8}"
  lab_dir="${OVERMESH_LAB_DIR:-/run/overmesh-lab}/$lab"
}

# print_daemon_logs [KEEP_DIR]: after a failure, the end of every host's overmeshd log on
# stderr (each log copied whole to KEEP_DIR when given), before the lab goes.
print_daemon_logs() {
  local keep="${1:-}" log host
  [ -d "$lab_dir" ] || return 0
  [ -z "$keep" ] || mkdir -p "$keep"
  for log in "$lab_dir"/h*/overmeshd.log; do
    [ -e "$log" ] || continue
    host=$(basename "$(dirname "$log")")
    if [ -n "$keep" ]; then
      cp "$log" "$keep/$host.log"
      echo "--- last lines of $host's overmeshd log (all of it in $keep/$host.log)" >&2
    else
      echo "--- last lines of $host's overmeshd log" >&2
    fi
    tail -n 15 "$log" >&2
  done
}
