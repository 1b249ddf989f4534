#!/usr/bin/env bash
# Builds the Debian package (CPack's DEB generator, packaging/Packaging.cmake) from the
# release build into dist/: overmesh_<version>_<arch>.deb.
# Builds only what the package holds (the two binaries, their man pages and the bash
# completion); where build/release is already up to date (CI, after scripts/test.sh) that
# builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in help2man file dpkg-shlibdeps cpack; do
  if ! command -v "$tool" > /dev/null; then
    echo "package: $tool is missing; run scripts/setup.sh as root" >&2
    exit 1
  fi
done
if [ ! -f build/release/CMakeCache.txt ]; then
  cmake --preset release > /dev/null
fi
cmake --build build/release -- overmesh overmeshd overmesh_docs
mkdir -p dist
rm -f dist/overmesh_*.deb
cpack --config build/release/CPackConfig.cmake -B build/release/cpack > /dev/null
mv build/release/cpack/overmesh_*.deb dist/
ls dist/overmesh_*.deb
