#!/bin/sh
# build-pch.sh OUTDIR - the precompiled header of C++ compiles (executors/cxxfast.h):
# OUTDIR/codegate-pch.h and OUTDIR/codegate-pch.h.gch/<variant>.gch, one file per variant of the
# options GCC insists on (dialect, optimization on or off). A compile whose options have no
# variant here gets no PCH (and is as fast as without one). Run by `make` (build/pch, the local
# runtime) and by docker/Dockerfile.cpp (the image). Needs g++; takes a few seconds per variant.
set -eu
out=${1:?usage: build-pch.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
# std:optimization; the executor's default (-std=c++17 -O2) first.
VARIANTS=${CODEGATE_PCH_VARIANTS:-"c++17:O2 c++20:O2 c++17:O0 c++20:O0"}
tmp="$out.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$tmp/codegate-pch.h.gch"
cp "$here/codegate-pch.h" "$tmp/codegate-pch.h"
for v in $VARIANTS; do
    std=${v%%:*} opt=${v#*:}
    g++ "-std=$std" "-$opt" -x c++-header "$tmp/codegate-pch.h" \
        -o "$tmp/codegate-pch.h.gch/$std-$opt.gch"
done
chmod -R a+rX "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
# GCC must take it (it silently parses the header when it does not).
echo '#include <iostream>' | g++ -std=c++17 -O2 -H -include "$out/codegate-pch.h" -x c++ \
    -fsyntax-only - 2>&1 | grep -q '^! .*/c++17-O2\.gch$' || {
    echo "build-pch.sh: g++ does not use $out/codegate-pch.h.gch" >&2
    exit 1
}
