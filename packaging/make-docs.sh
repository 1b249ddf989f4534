#!/bin/sh
# Generates what the package ships beside the binaries, from the binaries themselves, so it
# never drifts from them: man pages (help2man over --help/--version) and the CLI's bash
# completion (`overmesh completion bash`, which walks the CLI's own command definitions).
# Usage: make-docs.sh OVERMESH OVERMESHD OUTDIR
set -eu
overmesh=$1 overmeshd=$2 out=$3
mkdir -p "$out"
help2man --no-info --no-discard-stderr --section 1 \
  --name "command-line client of overmesh, multi-host container overlay networks" \
  --output "$out/overmesh.1" "$overmesh"
# overmeshd's page also carries `overmeshd cleanup --help` (a subcommand help2man does not
# run by itself), verbatim, as its CLEANUP section.
include="$out/overmeshd.h2m"
cat "$(dirname "$0")/overmeshd.h2m" > "$include"
{
  echo "[CLEANUP]"
  echo ".nf"
  "$overmeshd" cleanup --help | sed -e 's/\\/\\e/g' -e 's/^[.'"'"']/\\\&&/'
  echo ".fi"
} >> "$include"
help2man --no-info --no-discard-stderr --section 8 \
  --name "overmesh node daemon: overlay networks, services and stacks on this host" \
  --include "$include" \
  --output "$out/overmeshd.8" "$overmeshd"
rm -f "$include"
gzip -9nf "$out/overmesh.1" "$out/overmeshd.8"
"$overmesh" completion bash >"$out/overmesh.bash-completion"
