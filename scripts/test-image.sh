#!/usr/bin/env bash
# test-image.sh — the test and demo web image, built offline from busybox-static.
#
# Usage:
#   scripts/test-image.sh OUTDIR VERSION...     # e.g. scripts/test-image.sh /tmp/img 1 2
#
#   OUTDIR   a directory (made if missing) that receives, for each VERSION,
#            web-VERSION.tar: a docker-archive (`podman save --format docker-archive`, what
#            `docker save` writes) of the image overmesh.test/web:VERSION
#   VERSION  1-3 digits; the page says "v<VERSION>"
#
# The image: /bin/busybox with every applet linked in /bin, /etc/passwd and /etc/group
# (root, nobody), and /bin/serve, its CMD, which writes
#     web v<VERSION> <hostname>
# to <WWW>/index.html (WWW defaults to /tmp/www, writable also with --read-only, where
# podman mounts a tmpfs on /tmp) and runs `httpd -f -p ${PORT:-80} -h <WWW>`. The shell
# stays PID 1 with a trap, so that the image's STOPSIGNAL (SIGINT) and SIGTERM end the
# server at once (PID 1 of a namespace ignores signals it has no handler for). WORKDIR is
# /www-root (it exists), so a test can check that the image's workdir is honoured.
#
# Everything is built in podman storage under a temporary directory (--root, --runroot,
# --tmpdir) removed on exit: the machine's own /var/lib/containers and /run/containers are
# never used, nothing is pulled from the network, and no container runs. Needs root (podman
# import keeps file ownership), podman and busybox-static.
set -euo pipefail

die() { echo "test-image: $*" >&2; exit 2; }
[ $# -ge 2 ] || { sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
out=$1
shift
for version in "$@"; do
  [[ $version =~ ^[0-9]{1,3}$ ]] || die "invalid VERSION \"$version\": 1 to 3 digits, e.g. 1"
done
[ "$(id -u)" -eq 0 ] || die "must run as root (podman import keeps the files' owners)"
command -v podman > /dev/null || die "podman is missing (scripts/setup.sh installs it)"
[ -x /bin/busybox ] || die "/bin/busybox is missing (Debian package busybox-static)"
# ldd exits 1 on a static binary: its output is read, not its status (pipefail is on, and
# `file` is not installed on a bare Debian).
linkage=$(ldd /bin/busybox 2>&1 || true)
[[ $linkage == *"not a dynamic executable"* ]] ||
  die "/bin/busybox is not statically linked (install busybox-static, not busybox)"

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/overmesh-test-image.XXXXXX")
podman_() {
  podman --root "$work/storage" --runroot "$work/run" --tmpdir "$work/libpod" \
    --network-config-dir "$work/networks" --storage-driver overlay --cgroup-manager cgroupfs \
    --runtime runc --events-backend file "$@"
}
cleanup() {
  # Removes the images, then detaches the storage driver's mount, so that the directory
  # can go. (Not `system reset`: it also removes the machine's own podman networks.)
  podman_ rmi -af > /dev/null 2>&1 || true
  umount -l "$work/storage/overlay" 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for version in "$@"; do
  rootfs="$work/rootfs-$version"
  mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,run,var,www-root,root}
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
    > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  echo "v$version" > "$rootfs/www-root/VERSION"
  cat > "$rootfs/bin/serve" << EOF
#!/bin/sh
# The test image's server (scripts/test-image.sh): "web v$version <hostname>" over HTTP.
www=\${WWW:-/tmp/www}
mkdir -p "\$www" || exit 1
echo "web v$version \$(hostname)" > "\$www/index.html" || exit 1
httpd -f -p "\${PORT:-80}" -h "\$www" &
server=\$!
trap 'kill \$server 2> /dev/null; wait \$server; exit 0' INT TERM
wait \$server
EOF
  chmod 755 "$rootfs/bin/serve"
  tar -C "$rootfs" --numeric-owner --owner 0 --group 0 -c . |
    podman_ import --quiet \
      --change 'CMD ["/bin/serve"]' \
      --change 'STOPSIGNAL SIGINT' \
      --change 'WORKDIR /www-root' \
      --change 'ENV PATH=/bin' \
      --change 'EXPOSE 80/tcp' \
      - "overmesh.test/web:$version" > /dev/null
  rm -f "$out/web-$version.tar"
  podman_ save --quiet --format docker-archive -o "$out/web-$version.tar" "overmesh.test/web:$version" \
    > /dev/null
  echo "test-image: $out/web-$version.tar (overmesh.test/web:$version)"
done
