# Sourced by the scripts that run several long steps (test.sh, .ci/run): `stage NAME CMD…`
# runs CMD, prints how long it took, and keeps a line for `stage_summary`, so a slow or
# failed stage is obvious in CI's log. A failing CMD's status is returned, not fatal.

_stage_lines=()

stage() {
  local name=$1; shift
  local start=$SECONDS rc=0
  printf '\n== %s\n' "$name"
  "$@" || rc=$?
  local took=$((SECONDS - start))
  local line
  line=$(printf '%-55s %4d s  %s' "$name" "$took" "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)")")
  _stage_lines+=("$line")
  printf '== %s\n' "$line"
  return "$rc"
}

stage_summary() {
  printf '\n== stages\n'
  printf '%s\n' "${_stage_lines[@]}"
}
