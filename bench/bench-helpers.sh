# shellcheck shell=bash
# Shared by the shell benchmarks (sourced; each defines its own `die`).

# find_binaries: sets OM (the CLI) and exports OVERMESH, OVERMESHD and PATH for the lab
# and the scripts it runs; uses OVERMESH_BUILD, else build/release or build/debug, else
# builds release.
find_binaries() {
  local build="${OVERMESH_BUILD:-}"
  if [[ -z $build ]]; then
    for b in build/release build/debug; do
      [[ -x $b/src/cli/overmesh && -x $b/src/daemon/overmeshd ]] && { build=$b; break; }
    done
  fi
  if [[ -z $build ]]; then
    scripts/build.sh release overmesh overmeshd > /dev/null || die "build failed"
    build=build/release
  fi
  OM="$PWD/$build/src/cli/overmesh"
  [[ -x $OM && -x $PWD/$build/src/daemon/overmeshd ]] || die "no binaries in $build"
  export OVERMESH="$OM"
  export OVERMESHD="$PWD/$build/src/daemon/overmeshd"
  export PATH="$PWD/$build/src/cli:$PWD/$build/src/daemon:$PATH"
  echo "binaries: $build"
}
