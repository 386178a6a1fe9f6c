#!/bin/bash
# images.sh - build the executor images and the gateway image from this tree (`make images`).
#
#   scripts/images.sh [NAME...]      NAME: python javascript cpp gateway (default: all four)
#
# 1. The base image (scripts/base-image.sh: present, else pulled, else made with debootstrap).
# 2. For each image, a build context of only what its Dockerfile copies (Makefile, include/,
#    common/, executors/ or server/, and the Dockerfile), packed as a tar and sent to
#    `docker build` on stdin: the build directory, .git and test logs never travel.
# 3. Tags: codegate-<name>:latest (what deploy/compose.yaml runs) and codegate-<name>:src-<hash12>,
#    the first 12 hex digits of the SHA-256 of the context's files (names and contents), so an
#    image can be traced to the sources it was built from. (The gateway's docker runtime tags its
#    own builds <hash12> without the src- prefix; the two never name the same image.)
#
# Docker's layer cache makes a second run with an unchanged tree take seconds. Exit status 0
# when every image was built; the log of a failed build is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
ALL=(python javascript cpp gateway)

say() { echo "images: $*"; }
die() { echo "images: error: $*" >&2; exit 1; }

names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
for n in "${names[@]}"; do
    [ -f "docker/Dockerfile.$n" ] || die "unknown image '$n' (one of: ${ALL[*]})"
done

scripts/base-image.sh "$BASE_IMAGE"

# The files of one image's context, sorted, one per line (paths relative to the repository).
context_files() {
    local src=executors
    [ "$1" = gateway ] && src=server
    { echo Makefile; echo "docker/Dockerfile.$1"; find include common "$src" -type f; } | LC_ALL=C sort
}

# SHA-256 over each file's name and content: the same tree gives the same tag on any machine.
context_hash() {
    context_files "$1" | while IFS= read -r f; do
        printf '%s\0' "$f"
        sha256sum <"$f" | cut -d' ' -f1
    done | sha256sum | cut -c1-12
}

log=$(mktemp /tmp/codegate-images.XXXXXX)
trap 'rm -f "$log"' EXIT

for n in "${names[@]}"; do
    tag=$(context_hash "$n")
    image=codegate-$n
    say "building $image:latest ($image:src-$tag)"
    t0=$(date +%s)
    if ! context_files "$n" | tar --no-recursion -T - -c -f - |
        docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" -f "docker/Dockerfile.$n" \
            -t "$image:latest" -t "$image:src-$tag" - >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "docker build of $image failed"
    fi
    say "$image:latest ready in $(($(date +%s) - t0)) s ($(docker image inspect -f '{{.Size}}' "$image:latest") bytes)"
done
